import ArgumentParser

/// The recordings' flags: fsync period, free-space guard and rotation.
struct RecordingFlags: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write and fsync each recording at least this often; 0: only when it ends (0.1 to 3600).",
            valueName: "seconds"))
    var fsyncInterval: Double = 5

    /// The validated options these flags describe; a mistake throws a `ValidationError` naming the flag.
    func options() throws -> RecordingOptions {
        var options = RecordingOptions()
        guard fsyncInterval == 0 || (fsyncInterval >= 0.1 && fsyncInterval <= 3600) else {
            throw ValidationError(
                "--fsync-interval: must be 0 (at the end only) or 0.1 to 3600 seconds, got \(fsyncInterval)")
        }
        options.fsyncInterval = fsyncInterval > 0 ? .seconds(fsyncInterval) : nil
        return options
    }
}
