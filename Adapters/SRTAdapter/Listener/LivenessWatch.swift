import Synchronization

/// The quick liveness check's clock, one for the process: every ``SRTHealthCheck/quickCheckInterval`` (the
/// shortest of the running listeners') it looks whether each running listener's receive thread still exists. A
/// thread gone with no log line becomes a death signal like libsrt's own
/// (``SRTRuntime/recordUnloggedDeath(thread:since:)``), which the listeners decide on as usual; a listener whose
/// thread is not known gets a tick on its stream and checks itself with a datagram
/// (``SRTListenSocket/quickCheck(window:)``).
///
/// ```swift
/// let (key, ticks) = LivenessWatch.shared.watch(listener, every: .milliseconds(250))
/// defer { LivenessWatch.shared.end(key) }
/// for await _ in ticks { /* the thread is not known: check by the datagram */ }
/// ```
///
/// One task for all, one wake-up a tick: the look itself is one `tgkill` per listener, the wake-ups are the cost
/// (each listener on its own schedule cost 100 idle listeners 1–2 % of a core more; `Docs/benchmarks.md`).
final class LivenessWatch: Sendable {
    static let shared = LivenessWatch()

    private struct Watched {
        let listener: SRTListenSocket
        let interval: Duration
        let ticks: AsyncStream<Void>.Continuation
        var due: ContinuousClock.Instant
    }

    /// The longest tick: a listener watched meanwhile with a shorter interval waits no longer for its first.
    private static let longestSleep = Duration.milliseconds(250)

    private struct State {
        var watched: [Int: Watched] = [:]
        var nextKey = 0
        var looping = false
    }

    private let state = Mutex(State())

    /// Watches `listener` until ``end(_:)``; the stream ticks while its receive thread is not known.
    func watch(_ listener: SRTListenSocket, every interval: Duration) -> (key: Int, ticks: AsyncStream<Void>) {
        // Only the latest tick matters: a check still running when the next comes covers it.
        let (ticks, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (key, start) = state.withLock { state in
            let key = state.nextKey
            state.nextKey += 1
            state.watched[key] = Watched(
                listener: listener, interval: interval, ticks: continuation, due: .now + interval)
            defer { state.looping = true }
            return (key, !state.looping)
        }
        if start { Task.detached { await self.loop() } }
        return (key, ticks)
    }

    func end(_ key: Int) {
        let watched = state.withLock { $0.watched.removeValue(forKey: key) }
        watched?.ticks.finish()
    }

    /// Ticks while anything is watched; ends with the last watch (a later one starts it again). One wake-up a tick
    /// for every listener due within half a tick: listeners watched at different moments are checked together, not
    /// each at its own instant (that cost 100 idle listeners a wake-up apiece, 400 a second).
    private func loop() async {
        while true {
            let tick = state.withLock { state -> Duration? in
                guard let shortest = state.watched.values.map(\.interval).min() else {
                    state.looping = false
                    return nil
                }
                return min(shortest, Self.longestSleep)
            }
            guard let tick else { return }
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let due = state.withLock { state in
                var due: [Watched] = []
                for (key, watched) in state.watched where watched.due <= now + tick / 2 {
                    due.append(watched)
                    state.watched[key]?.due = now + watched.interval
                }
                return due
            }
            for watched in due {
                switch watched.listener.receiveThreadIsGone {
                case true?:
                    SRTRuntime.recordUnloggedDeath(
                        thread: watched.listener.receiveThread, since: watched.listener.listeningSince)
                case false?: continue
                case nil: watched.ticks.yield()
                }
            }
        }
    }
}
