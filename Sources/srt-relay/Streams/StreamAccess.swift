import SRTAdapter

/// The relay's handshake decisions, from memory only (they run on libsrt's receive thread: ``SRTAccessControl/
/// immediate(_:)``): a stream id it cannot read is a bad request (1400), a name off the allow list forbidden (1403),
/// a second publisher a conflict (1409) unless `--takeover`, a reader past `--max-readers` an overload (1402), a
/// publisher while the disk is low "no room" (1507); with `--config`, a stream, role or network the file does not
/// allow is forbidden (1403), and an accepted caller must use its role's passphrase.
struct StreamAccess: Sendable {
    var allowed: Set<String> = []
    /// A forwarding relay's one publisher at a time.
    var slot: ForwardSlot?
    var space: DiskSpaceGuard?
    let hubs: StreamHubs
    let streams: StreamSettings
    /// `--config`: per-stream passphrases, networks and limits.
    var configuration: LiveConfiguration?

    func decide(_ request: SRTAccessRequest) -> SRTAccessDecision {
        guard let stream = try? StreamRequest(parsing: request.streamID) else { return .reject(.badRequest) }
        if !allowed.isEmpty && !allowed.contains(stream.name) { return .reject(.forbidden) }
        // A push or pull that came through this relay already: a loop (or a chain too long to be meant).
        if streams.identity.refuses(stream.via) { return .reject(RelayIdentity.loopDetected) }
        var passphrase: SRTPassphrase?
        var maxReaders = streams.maxReaders
        if let configuration = configuration?.configuration {
            // A stream the file does not serve, a role it does not allow, a network it does not list: forbidden.
            guard let entry = configuration.stream(named: stream.name),
                let access = stream.role == .publish ? entry.publish : entry.read,
                access.admits(request.peerAddress?.host)
            else { return .reject(.forbidden) }
            passphrase = access.passphrase
            maxReaders = entry.maxReaders ?? maxReaders
        }
        switch stream.role {
        case .publish:
            // A forwarding relay carries one publisher at a time: the next is told the target is in use.
            if slot?.isTaken == true { return .reject(.conflict) }
            if !streams.takeover && hubs.isPublished(stream.name) { return .reject(.conflict) }
            // Nowhere to record: "no room" (1507) until space is back.
            if space?.isLow == true && records(stream.name) { return .reject(DiskSpaceGuard.rejectReason) }
        case .read:
            if hubs.readerCount(stream.name) >= maxReaders { return .reject(.overload) }
        }
        return .accept(passphrase: passphrase)
    }

    /// Whether `name` is recorded: the configuration's word for it, else `--record`'s.
    func records(_ name: String) -> Bool {
        configuration?.configuration.stream(named: name)?.record ?? streams.recording.includes(name)
    }

    /// The most readers of `name`: the configuration's word for it, else `--max-readers`.
    func maxReaders(of name: String) -> Int {
        configuration?.configuration.stream(named: name)?.maxReaders ?? streams.maxReaders
    }
}
