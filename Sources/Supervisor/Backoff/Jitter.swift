/// How a delay is randomized, so that many clients that failed together do not retry together.
///
/// With `d` the delay the backoff curve gives for an attempt (already capped at the curve's maximum):
///
/// | jitter | delay | range | mean |
/// | --- | --- | --- | --- |
/// | ``none`` | `d` | `d` | `d` |
/// | ``full`` | `U(0, d)` | `[0, d)` | `d/2` |
/// | ``equal`` | `d/2 + U(0, d/2)` | `[d/2, d)` | `3d/4` |
/// | ``proportional(_:)`` with `f` | `d·(1 + U(-f, f))` | `[d(1-f), d(1+f))` | `d` |
///
/// The curve's maximum is applied **before** jitter: a client that has reached the cap keeps a randomized delay
/// instead of retrying exactly on the cap in lockstep with every other client. Only proportional jitter can
/// therefore exceed the curve's maximum (by the factor `f`, as gRPC's connection backoff does); a hard bound that
/// holds after jitter is ``Backoff/clamped(to:)``.
///
/// ```swift
/// let grpc = try Backoff.exponential(initial: .seconds(1), multiplier: 1.6, maximum: .seconds(120))
///     .jitter(.proportional(0.2))
/// ```
public struct Jitter: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline
    enum Kind: Hashable, Sendable {
        case none
        case full
        case equal
        case proportional(Double)
    }

    @usableFromInline
    let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// No randomness: the delay is the curve's value.
    public static let none = Jitter(.none)
    /// `U(0, d)`: the widest spread and the least total load (Brooker, "Exponential Backoff And Jitter", 2015).
    public static let full = Jitter(.full)
    /// `d/2 + U(0, d/2)`: keeps at least half of the delay.
    public static let equal = Jitter(.equal)

    /// `d·(1 + U(-f, f))`: the delay varies by up to the fraction `factor` either way (gRPC uses 0.2).
    ///
    /// - Throws: ``ConfigurationError`` unless `factor` is a finite number in `0...1`.
    public static func proportional(_ factor: Double) throws(ConfigurationError) -> Jitter {
        Jitter(.proportional(try validated(factor, "jitter factor", in: 0...1)))
    }

    /// Proportional jitter of a fraction known to be valid, for constants.
    static func proportional(fraction: Double) -> Jitter {
        precondition((0...1).contains(fraction), "a jitter fraction is in 0...1")
        return Jitter(.proportional(fraction))
    }

    /// Applies this jitter to `delay` seconds.
    @inlinable
    func apply<G: RandomNumberGenerator>(to delay: Double, using generator: inout G) -> Double {
        switch kind {
        case .none:
            return delay
        case .full:
            return delay * generator.nextUnitInterval()
        case .equal:
            return delay * (0.5 + 0.5 * generator.nextUnitInterval())
        case .proportional(let factor):
            return delay * (1 + factor * (2 * generator.nextUnitInterval() - 1))
        }
    }

    public var description: String {
        switch kind {
        case .none: "none"
        case .full: "full"
        case .equal: "equal"
        case .proportional(let factor): "proportional(\(factor))"
        }
    }
}
