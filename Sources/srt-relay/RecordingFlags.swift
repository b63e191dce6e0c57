import ArgumentParser

/// The recordings' flags: fsync period, free-space guard and rotation.
struct RecordingFlags: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write and fsync each recording at least this often; 0: only when it ends (0.1 to 3600).",
            valueName: "seconds"))
    var fsyncInterval: Double = 5

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Refuse publishers and end recordings while the output's free space is below this: a size (512M, 2G) "
                + "or a share of the disk (5%); 0 for no limit. Any other value is rounded up, never to 0: at least "
                + "1 byte.",
            valueName: "size"))
    var minFree = "1G"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Cut recordings into numbered segments of about this many seconds (0.1 to 86400).", valueName: "seconds"))
    var segmentDuration: Double?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Cut recordings into numbered segments of at most this size (64K to 1T), at 188-byte packet boundaries.",
            valueName: "size"))
    var segmentSize: String?

    /// The validated options these flags describe, for recordings in `directory` (`nil` when forwarding); a
    /// mistake throws a `ValidationError` naming the flag.
    func options(directory: String?) throws -> RecordingOptions {
        var options = RecordingOptions()
        let threshold = try flag("--min-free") { () throws(ParseFailure) in try FreeSpaceThreshold(parsing: minFree) }
        if let directory, threshold.isEnabled {
            options.space = DiskSpaceGuard(directory: directory, threshold: threshold)
        }
        guard fsyncInterval == 0 || (fsyncInterval >= 0.1 && fsyncInterval <= 3600) else {
            throw ValidationError(
                "--fsync-interval: must be 0 (at the end only) or 0.1 to 3600 seconds, got \(fsyncInterval)")
        }
        options.fsyncInterval = fsyncInterval > 0 ? .seconds(fsyncInterval) : nil
        if let segmentDuration {
            guard segmentDuration >= 0.1 && segmentDuration <= 86_400 else {
                throw ValidationError("--segment-duration: must be 0.1 to 86400 seconds, got \(segmentDuration)")
            }
            options.segmentDuration = .seconds(segmentDuration)
        }
        if let segmentSize {
            let bytes = try flag("--segment-size") { () throws(ParseFailure) in try ByteSize.parse(segmentSize) }
            guard bytes >= 64 << 10 && bytes <= 1 << 40 else {
                throw ValidationError("--segment-size: must be 64K to 1T, got \(segmentSize)")
            }
            // Whole packets only: every segment ends where a packet does.
            options.segmentSize = Int(bytes - bytes % RecordingOptions.packetSize)
        }
        return options
    }
}
