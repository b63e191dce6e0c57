import Logging

/// A log handler that runs `onReady` when a supervisor logs its `ready` line: in the supervisor's own task, right
/// after `start` returned and before the run began. Tests use it to act at that instant (a restart request), or to
/// time it where it happens rather than when an event consumer on a loaded pool gets to it.
///
/// ```swift
/// let logger = Logger(label: "timed") { _ in ReadyCallingLogHandler { readyAt.withLock { $0 = .now } } }
/// ```
struct ReadyCallingLogHandler: LogHandler {
    let onReady: @Sendable () -> Void
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if event.message == "ready" { onReady() }
    }
}
