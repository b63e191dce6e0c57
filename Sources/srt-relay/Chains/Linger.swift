/// How a push or pull outlives what it serves: it ends once its stream has had no publisher (a push) or no reader
/// (a pull) for the linger time, so that one that comes back within it finds the push or pull still there.
///
/// ```swift
/// if await Linger.idle(for: .seconds(10), { hub.publisher == nil }) { return .unpublished }
/// ```
enum Linger {
    /// How often the condition is looked at.
    static let check = Duration.milliseconds(500)

    /// Returns `true` once `isIdle` has held at every look for `linger`, `false` when the task is cancelled first.
    static func idle(for linger: Duration, _ isIdle: @Sendable () -> Bool) async -> Bool {
        var idleSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            do { try await Task.sleep(for: check) } catch { return false }
            let now = ContinuousClock.now
            if !isIdle() {
                idleSince = nil
            } else if let since = idleSince {
                if now - since >= linger { return true }
            } else {
                idleSince = now
            }
        }
        return false
    }
}
