/// How a pull notices that its stream stopped arriving: libsrt calls a connection whose peer went silent without a
/// word (its process killed, its host gone) broken only after its silent-peer timeout (5 s by default), which
/// keepalives alone (one a second) must not trip, while a live stream that flowed does not pause for a second by
/// itself. What the pull does then is ``StreamPull``'s: it calls the origin again, and replaces the connection only
/// if that call is answered.
///
/// ```swift
/// if await StallWatch.stalled(after: .seconds(1), { link.bytes.load(ordering: .relaxed) }) { /* probe */ }
/// ```
enum StallWatch {
    /// Returns `true` once `received` has stood still for `limit` after it first moved; `false` when the task is
    /// cancelled first. A connection that never carried anything is never called stalled: the stream may not be
    /// published at the origin yet.
    static func stalled(after limit: Duration, _ received: @Sendable () -> UInt64) async -> Bool {
        // A tenth of the limit at most: a stall is seen within 10 % of it; 100 ms at least.
        let check = max(.milliseconds(100), limit / 10)
        let initial = received()
        var (last, movedAt) = (initial, ContinuousClock.Instant?.none)
        while !Task.isCancelled {
            do { try await Task.sleep(for: check) } catch { return false }
            let now = ContinuousClock.now
            let count = received()
            if count != last {
                (last, movedAt) = (count, now)
            } else if let movedAt, now - movedAt >= limit {
                return true
            }
        }
        return false
    }
}
