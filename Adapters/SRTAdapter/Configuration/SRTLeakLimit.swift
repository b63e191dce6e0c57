public import Supervisor

/// How many multiplexers libsrt may keep for good (``SRTRuntime/leakedMultiplexerCount``) before an ``SRTServer``
/// ends its run with ``SRTError/Code/leakLimitExceeded``, so that a service manager can start a fresh process.
///
/// libsrt 1.5.1 never frees a multiplexer whose receive thread died while it carried connections: one descriptor,
/// one thread and about 1.4 MiB each, for the life of the process. The count is the process's, whichever server's
/// listener died.
///
/// ```swift
/// let server = SRTServer(configuration: configuration, leakLimit: try SRTLeakLimit(maxLeakedMultiplexers: 100))
/// do { try await server.run() } catch let error as SRTError where error.code == .leakLimitExceeded {
///     SRTRuntime.exit(75)  // EX_TEMPFAIL: restart me
/// }
/// ```
public struct SRTLeakLimit: Sendable, Hashable, CustomStringConvertible {
    /// The most leaked multiplexers a run tolerates; one more ends it. `nil`: no limit.
    public let maxLeakedMultiplexers: Int?

    /// - Throws: `ConfigurationError` (`outOfRange`, option `maxLeakedMultiplexers`) outside 0...1,000,000.
    public init(maxLeakedMultiplexers: Int) throws(ConfigurationError) {
        guard (0...1_000_000).contains(maxLeakedMultiplexers) else {
            throw ConfigurationError(
                .outOfRange, option: "maxLeakedMultiplexers",
                "must be 0 to 1000000, got \(maxLeakedMultiplexers)")
        }
        self.maxLeakedMultiplexers = maxLeakedMultiplexers
    }

    private init(unchecked maxLeakedMultiplexers: Int?) {
        self.maxLeakedMultiplexers = maxLeakedMultiplexers
    }

    /// No limit: the server runs whatever libsrt keeps.
    public static let unlimited = SRTLeakLimit(unchecked: nil)

    /// Whether `count` leaked multiplexers are more than this limit allows.
    public func isExceeded(by count: Int) -> Bool {
        maxLeakedMultiplexers.map { count > $0 } ?? false
    }

    public var description: String {
        maxLeakedMultiplexers.map { "at most \($0) leaked multiplexers" } ?? "no limit on leaked multiplexers"
    }
}
