import Metrics
import Synchronization

/// The multiplexers libsrt keeps for the life of the process.
///
/// libsrt 1.5.1 never frees a multiplexer whose receive thread died while it carried connections: only that thread
/// takes a socket off its receive list, and the garbage collector waits for it forever. Each keeps one descriptor
/// (the retired UDP socket, on /dev/null), its send thread and about 1.4 MiB. ``SRTListenSocket/retire()`` counts one
/// whenever it closes connections with a dead socket, and ``SRTConnection/close()`` one when it closes a caller whose
/// own UDP socket's receive thread is gone.
///
/// ```swift
/// print(SRTRuntime.leakedMultiplexerCount)                 // 0 in a process that never saw a death
/// for await count in SRTRuntime.leakedMultiplexerCounts() where count > 100 { restartTheProcess() }
/// ```
///
/// The same count is the swift-metrics gauge `srt_leaked_multiplexers`.
extension SRTRuntime {
    private struct Leaks {
        var count = 0
        var subscribers: [Int: AsyncStream<Int>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private static let leaks = Mutex(Leaks())

    /// The label of the gauge that carries ``leakedMultiplexerCount``.
    public static let leakedMultiplexerGaugeLabel = "srt_leaked_multiplexers"

    /// How many multiplexers libsrt keeps for good in this process (dead receive threads that carried connections:
    /// a listener's, or a caller's own).
    public static var leakedMultiplexerCount: Int {
        leaks.withLock { $0.count }
    }

    /// The count now, then each new count, until the subscriber stops iterating; never blocks the one who counts.
    public static func leakedMultiplexerCounts() -> AsyncStream<Int> {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
        let id = leaks.withLock { leaks in
            defer { leaks.nextSubscriber += 1 }
            leaks.subscribers[leaks.nextSubscriber] = continuation
            // Under the lock: no count can slip between this one and the subscription.
            continuation.yield(leaks.count)
            return leaks.nextSubscriber
        }
        continuation.onTermination = { _ in
            _ = leaks.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Counts one more kept multiplexer, updates the gauge and tells the subscribers.
    static func recordLeakedMultiplexer() {
        let count = leaks.withLock { leaks in
            leaks.count += 1
            for subscriber in leaks.subscribers.values { subscriber.yield(leaks.count) }
            return leaks.count
        }
        publishLeakedMultiplexerGauge(count)
    }

    /// Records the count on the gauge; ``SRTServer`` calls it when it is made, so that the series exists from the
    /// start. Made each time from the metrics factory of the moment: one bootstrapped after this runtime started
    /// still gets it.
    static func publishLeakedMultiplexerGauge(_ count: Int? = nil) {
        Gauge(label: leakedMultiplexerGaugeLabel).record(count ?? leakedMultiplexerCount)
    }
}
