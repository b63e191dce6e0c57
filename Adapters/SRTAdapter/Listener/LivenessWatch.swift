import Synchronization

/// The quick liveness check's clock, one for the process: it ticks at the shortest
/// ``SRTHealthCheck/quickCheckInterval`` of the running listeners and looks whether each due listener's receive
/// thread still exists. It decides nothing and records nothing: a listener whose thread is gone, or not known, gets
/// a tick on its own stream, and its run decides (``SRTListener``), so a listener whose run ended is never judged.
///
/// ```swift
/// let (key, ticks) = LivenessWatch.shared.watch(listener, every: .milliseconds(250))
/// defer { LivenessWatch.shared.end(key) }
/// for await tick in ticks { /* .threadGone: dead; .threadUnknown: check by the datagram */ }
/// ```
///
/// One task for all, one wake-up a tick: the look itself is one `tgkill` per listener, the wake-ups are the cost
/// (each listener on its own schedule cost 100 idle listeners 1–2 % of a core more; `Docs/benchmarks.md`).
final class LivenessWatch: Sendable {
    static let shared = LivenessWatch()

    /// What a due listener's look found; a listener whose thread runs gets nothing.
    enum Tick: Sendable, Equatable {
        /// Its known receive thread no longer exists.
        case threadGone
        /// Its receive thread is not known: the datagram decides.
        case threadUnknown
    }

    private struct Watched {
        let listener: SRTListenSocket
        let interval: Duration
        let ticks: AsyncStream<Tick>.Continuation
        var due: ContinuousClock.Instant
    }

    private struct State {
        var watched: [Int: Watched] = [:]
        var nextKey = 0
        /// The running loop's tick, `nil` when no loop runs.
        var tick: Duration?
        /// Bumped to end a loop that sleeps too long for a newly watched listener (a new loop takes over).
        var generation = 0
    }

    private let state = Mutex(State())

    /// Watches `listener` until ``end(_:)``, every `interval` (rounded to the loop's tick: the shortest interval
    /// watched).
    func watch(_ listener: SRTListenSocket, every interval: Duration) -> (key: Int, ticks: AsyncStream<Tick>) {
        // Only the latest tick matters: a check still running when the next comes covers it.
        let (ticks, continuation) = AsyncStream.makeStream(of: Tick.self, bufferingPolicy: .bufferingNewest(1))
        let (key, generation) = state.withLock { state -> (Int, Int?) in
            let key = state.nextKey
            state.nextKey += 1
            state.watched[key] = Watched(
                listener: listener, interval: interval, ticks: continuation, due: .now + interval)
            // No loop, or one whose tick is too long for this listener: a new loop, which ends the old one.
            if let tick = state.tick, tick <= interval { return (key, nil) }
            state.generation += 1
            state.tick = interval
            return (key, state.generation)
        }
        if let generation { Task.detached { await self.loop(generation) } }
        return (key, ticks)
    }

    func end(_ key: Int) {
        let watched = state.withLock { $0.watched.removeValue(forKey: key) }
        watched?.ticks.finish()
    }

    /// Ticks while anything is watched and no newer loop took over; ends with the last watch (a later one starts it
    /// again). One wake-up a tick for every listener due within half a tick: listeners watched at different moments
    /// are looked at together, not each at its own instant.
    private func loop(_ generation: Int) async {
        while true {
            let tick = state.withLock { state -> Duration? in
                guard state.generation == generation else { return nil }
                guard let shortest = state.watched.values.map(\.interval).min() else {
                    state.tick = nil
                    return nil
                }
                state.tick = shortest
                return shortest
            }
            guard let tick else { return }
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let due = state.withLock { state in
                var due: [Watched] = []
                guard state.generation == generation else { return due }
                for (key, watched) in state.watched where watched.due <= now + tick / 2 {
                    due.append(watched)
                    state.watched[key]?.due = now + watched.interval
                }
                return due
            }
            for watched in due {
                switch watched.listener.receiveThreadIsGone {
                case true?: watched.ticks.yield(.threadGone)
                case false?: continue
                case nil: watched.ticks.yield(.threadUnknown)
                }
            }
        }
    }
}
