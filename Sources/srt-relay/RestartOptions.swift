import ArgumentParser

/// The restart policy's flags: backoff kind, its first and largest delay, jitter, and restart intensity.
struct RestartOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The backoff kind: exponential, constant, linear, decorrelated, soft-exponential or steps.",
            valueName: "kind"))
    var backoff: BackoffKind = .exponential

    @Option(name: .long, help: ArgumentHelp("The first backoff delay in milliseconds.", valueName: "ms"))
    var backoffInitial = 50

    @Option(name: .long, help: ArgumentHelp("The largest backoff delay in milliseconds.", valueName: "ms"))
    var backoffMax = 10_000

    @Option(
        name: .long,
        help: ArgumentHelp("Jitter: none, full, equal, or a fraction for proportional (0.2).", valueName: "jitter"))
    var jitter = "full"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Restart intensity: at most R restarts in T seconds, as R/T; then probe every --backoff-max.",
            valueName: "R/T"))
    var intensity: String?

    @Flag(name: .long, help: "Exit with an error, instead of probing slowly, when the restart intensity trips.")
    var giveUp = false
}

/// The backoff kinds the command line offers (the library's factories with their documented shapes).
enum BackoffKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case exponential
    case constant
    case linear
    case decorrelated
    case softExponential = "soft-exponential"
    case steps
}
