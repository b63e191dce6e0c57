import ArgumentParser

/// The flags of publishing and reading: `--takeover`, `--max-readers`, `--reader-buffer`, `--slow-reader-limit`,
/// `--record`.
struct StreamFlags: ParsableArguments {
    @Flag(name: .long, help: "A new publisher of a stream replaces the one there; without it, it is refused (1409).")
    var takeover = false

    @Option(name: .long, help: "The most readers of one stream (1 to 100000); more are refused (1402).")
    var maxReaders = StreamSettings().maxReaders

    @Option(
        name: .long,
        help: ArgumentHelp(
            "What each reader may fall behind by before its oldest packets are dropped (64K to 1G).", valueName: "size")
    )
    var readerBuffer = "4M"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A reader that keeps dropping packets this long is disconnected (0.1 to 3600).", valueName: "seconds"))
    var slowReaderLimit: Double = 5

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Record this stream (repeatable); `all` (the default) or `none` (serve readers only).", valueName: "name"))
    var record: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Push a stream on to another SRT listener (repeatable): NAME=srt://HOST:PORT?streamid=ID"
                + "&passphrase-env=VARIABLE&latency=MS; NAME * for every stream, {stream} in ID for its name.",
            valueName: "rule"))
    var push: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "What a push holds while it reconnects before its oldest packets are dropped (64K to 1G).",
            valueName: "size"))
    var pushBuffer = "8M"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Pull a stream nobody publishes here from another SRT listener when a reader asks (repeatable): "
                + "NAME=srt://HOST:PORT?streamid=ID&passphrase-env=VARIABLE&latency=MS; NAME * for every stream, "
                + "{stream} in ID for its name (default #!::r={stream},m=request).",
            valueName: "rule"))
    var pull: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A pulled stream that stops arriving this long after it flowed, from an origin that no longer "
                + "acknowledges, is called again before libsrt's 5 s silent-peer timeout (0.5 to 60; 0: wait for libsrt).",
            valueName: "seconds"))
    var pullStall: Double = 1

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A push whose messages go unacknowledged this long calls its listener again, before libsrt's 5 s "
                + "silent-peer timeout (0.5 to 60; 0: wait for libsrt).",
            valueName: "seconds"))
    var pushStall: Double = 1

    @Option(
        name: .long,
        help: ArgumentHelp(
            "This relay's id in chains (1 to 32 letters, digits, - or _; random by default): its pushes and pulls "
                + "carry it, and a stream coming back through it is refused as a loop (1508).",
            valueName: "id"))
    var relayID: String?

    @Option(
        name: .long,
        help: "The most pushes at a time (1 to 10000), lingering ones included; a stream past it is not pushed.")
    var maxPushes = StreamSettings().maxPushes

    @Option(
        name: .long,
        help: "The most pulls at a time (1 to 10000), lingering ones included; a stream past it is not pulled.")
    var maxPulls = StreamSettings().maxPulls

    /// `seconds` of `--pull-stall` or `--push-stall` as a limit; `nil` for 0 (off).
    static func stallLimit(_ seconds: Double, flag: String) throws -> Duration? {
        // Below half a second, the new call's wait (the limit) would barely cover libsrt's first resend of its
        // handshake (250 ms).
        guard seconds.isFinite && (seconds == 0 || (0.5...60).contains(seconds)) else {
            throw ValidationError("\(flag): must be 0 or 0.5 to 60 seconds, got \(seconds)")
        }
        return seconds == 0 ? nil : .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The validated settings; a mistake throws a `ValidationError` naming the flag.
    func settings() throws -> StreamSettings {
        var settings = StreamSettings()
        settings.takeover = takeover
        guard (1...100_000).contains(maxReaders) else {
            throw ValidationError("--max-readers: must be 1 to 100000, got \(maxReaders)")
        }
        settings.maxReaders = maxReaders
        let bytes = try flag("--reader-buffer") { () throws(ParseFailure) in try ByteSize.parse(readerBuffer) }
        guard bytes >= 64 << 10 && bytes <= 1 << 30 else {
            throw ValidationError("--reader-buffer: must be 64K to 1G, got \(readerBuffer)")
        }
        guard slowReaderLimit.isFinite && slowReaderLimit >= 0.1 && slowReaderLimit <= 3600 else {
            throw ValidationError("--slow-reader-limit: must be 0.1 to 3600 seconds, got \(slowReaderLimit)")
        }
        settings.readerQueue = ReaderQueue.Limits(maxBytes: Int(bytes), slowLimit: .seconds(slowReaderLimit))
        settings.pushes = try push.map { rule in
            try flag("--push") { () throws(ParseFailure) in
                try PushRule(parsing: rule, defaultStreamID: "#!::r=\(PushRule.placeholder),m=publish")
            }
        }
        settings.pulls = try pull.map { rule in
            try flag("--pull") { () throws(ParseFailure) in
                try PushRule(parsing: rule, defaultStreamID: "#!::r=\(PushRule.placeholder),m=request")
            }
        }
        settings.pullStall = try Self.stallLimit(pullStall, flag: "--pull-stall")
        settings.pushStall = try Self.stallLimit(pushStall, flag: "--push-stall")
        if let relayID {
            settings.identity = try flag("--relay-id") { () throws(ParseFailure) in try RelayIdentity(id: relayID) }
        }
        let pushBytes = try flag("--push-buffer") { () throws(ParseFailure) in try ByteSize.parse(pushBuffer) }
        guard pushBytes >= 64 << 10 && pushBytes <= 1 << 30 else {
            throw ValidationError("--push-buffer: must be 64K to 1G, got \(pushBuffer)")
        }
        settings.pushBuffer = Int(pushBytes)
        guard (1...10_000).contains(maxPushes) else {
            throw ValidationError("--max-pushes: must be 1 to 10000, got \(maxPushes)")
        }
        settings.maxPushes = maxPushes
        guard (1...10_000).contains(maxPulls) else {
            throw ValidationError("--max-pulls: must be 1 to 10000, got \(maxPulls)")
        }
        settings.maxPulls = maxPulls
        switch Set(record) {
        case []: settings.recording = .all
        case ["all"]: settings.recording = .all
        case ["none"]: settings.recording = .none
        case let names where names.contains("all") || names.contains("none"):
            throw ValidationError("--record: `all` and `none` stand alone, got \(record.joined(separator: ", "))")
        case let names: settings.recording = .only(names)
        }
        return settings
    }
}
