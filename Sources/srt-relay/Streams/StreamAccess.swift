import SRTAdapter

/// The relay's handshake decisions, from memory only (they run on libsrt's receive thread: ``SRTAccessControl/
/// immediate(_:)``): a stream id it cannot read is a bad request (1400), a name off the allow list forbidden (1403),
/// a second publisher a conflict (1409) unless `--takeover`, a reader past `--max-readers` an overload (1402), a
/// publisher while the disk is low "no room" (1507).
struct StreamAccess: Sendable {
    var allowed: Set<String> = []
    /// A forwarding relay's one publisher at a time.
    var slot: ForwardSlot?
    var space: DiskSpaceGuard?
    let hubs: StreamHubs
    let streams: StreamSettings

    func decide(_ request: SRTAccessRequest) -> SRTAccessDecision {
        guard let stream = try? StreamRequest(parsing: request.streamID) else { return .reject(.badRequest) }
        if !allowed.isEmpty && !allowed.contains(stream.name) { return .reject(.forbidden) }
        switch stream.role {
        case .publish:
            // A forwarding relay carries one publisher at a time: the next is told the target is in use.
            if slot?.isTaken == true { return .reject(.conflict) }
            if !streams.takeover && hubs.isPublished(stream.name) { return .reject(.conflict) }
            // Nowhere to record: "no room" (1507) until space is back.
            if space?.isLow == true && streams.recording.includes(stream.name) {
                return .reject(DiskSpaceGuard.rejectReason)
            }
        case .read:
            if hubs.readerCount(stream.name) >= streams.maxReaders { return .reject(.overload) }
        }
        return .accept
    }
}
