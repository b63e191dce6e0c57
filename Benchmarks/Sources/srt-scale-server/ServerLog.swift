import Logging

/// The server's own lines (a self-probe that failed, a listener retired or restarted) on standard error, from
/// warnings up: run.sh shows them, and they explain a run that lost connections.
enum ServerLog {
    static func logger(label: String) -> Logger {
        var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        return logger
    }
}
