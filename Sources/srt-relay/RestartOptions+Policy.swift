import ArgumentParser
import Supervisor

extension RestartOptions {
    /// The restart policy these flags describe; a mistake throws a `ValidationError` naming the flag.
    func policy() throws -> RestartPolicy {
        let initial = Duration.milliseconds(backoffInitial)
        let maximum = Duration.milliseconds(backoffMax)
        let curve = try flag("--backoff-initial/--backoff-max") { () throws(ConfigurationError) -> Backoff in
            switch backoff {
            case .exponential: try .exponential(initial: initial, multiplier: 2, maximum: maximum)
            case .constant: try .constant(initial)
            case .linear: try .linear(initial: initial, increment: initial, maximum: maximum)
            case .decorrelated: try .decorrelated(base: initial, maximum: maximum)
            case .softExponential: try .softExponential(median: initial, maximum: maximum)
            case .steps: try .steps(first: initial, maximum: maximum)
            }
        }
        let spread = try flag("--jitter") { () throws(ParseFailure) in try Self.jitter(jitter) }
        var limit: RestartIntensity?
        var escalation = Escalation.giveUp
        if let intensity {
            limit = try flag("--intensity") { () throws(ParseFailure) in try Self.intensity(intensity) }
            if !giveUp {
                escalation = try flag("--backoff-max") { () throws(ConfigurationError) in
                    try Escalation.degrade(probeInterval: maximum)
                }
            }
        }
        return try flag("--intensity") { () throws(ConfigurationError) in
            try RestartPolicy(backoff: curve.jitter(spread), intensity: limit, escalation: escalation)
        }
    }

    /// `none`, `full`, `equal`, or a fraction for proportional jitter.
    static func jitter(_ text: String) throws(ParseFailure) -> Jitter {
        switch text {
        case "none": return .none
        case "full": return .full
        case "equal": return .equal
        default:
            guard let fraction = Double(text), let jitter = try? Jitter.proportional(fraction) else {
                throw ParseFailure("expected none, full, equal or a fraction 0...1, got \"\(text)\"")
            }
            return jitter
        }
    }

    /// `R/T`: at most R restarts within T seconds.
    static func intensity(_ text: String) throws(ParseFailure) -> RestartIntensity {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let restarts = Int(parts[0]), let seconds = Double(parts[1]), seconds.isFinite,
            seconds > 0, seconds <= 1e9
        else { throw ParseFailure("expected R/T (restarts/seconds), got \"\(text)\"") }
        do {
            return try RestartIntensity(maxRestarts: restarts, within: .seconds(seconds))
        } catch {
            throw ParseFailure("\(error)")
        }
    }
}
