import CSRT

/// Judges, from successive looks, whether a caller's UDP receive thread still reads (``SRTCallerHealthCheck``).
///
/// ```swift
/// var watch = ReceivePathWatch(unreadLimit: .milliseconds(250))
/// while true {
///     switch watch.add(await ReceivePathWatch.Look.take(connection)) {
///     case .reading: return true
///     case .deaf(let why): throw …(why)
///     case .undecided: try await Task.sleep(for: .milliseconds(10))
///     }
/// }
/// ```
struct ReceivePathWatch {
    /// What one look saw.
    struct Look {
        let at: ContinuousClock.Instant
        /// Whether the descriptor is still a socket (`false` after a dup2 of /dev/null over it); `nil` when unknown.
        let isSocket: Bool?
        /// The kernel memory of datagrams queued unread (`SO_MEMINFO`); `nil` when unknown.
        let queueMemory: Int?
        /// ``SRTStatistics/receiveThreadActivity``; `nil` when not read or not readable.
        let activity: Int64?

        /// Looks at `connection`: its UDP socket (two system calls), and, with `counters`, libsrt's counters
        /// (`srt_bstats`, which takes libsrt's global lock, so it is read on the ``SRTControlThread``).
        static func take(_ connection: SRTConnection, counters: Bool = true) async -> Look {
            let at = ContinuousClock.now
            let activity = counters ? (try? await connection.currentStatistics())?.receiveThreadActivity : nil
            return Look(connection, activity: activity, at: at)
        }

        /// Looks at `connection`'s UDP socket now; `activity` read by the caller.
        init(_ connection: SRTConnection, activity: Int64?, at: ContinuousClock.Instant = .now) {
            self.at = at
            if let descriptor = connection.udpDescriptor {
                let memory = csrt_receive_queue_memory(descriptor)
                // "A socket" means the caller's own: SO_MEMINFO fails on anything that is not a socket (/dev/null:
                // ENOTSOCK), and the identity check catches another socket that took the number.
                let own = connection.udpDescriptorIsOwn ?? true
                isSocket = own && memory >= 0
                queueMemory = own && memory >= 0 ? memory : nil
            } else {
                isSocket = nil
                queueMemory = nil
            }
            self.activity = activity
        }

        init(at: ContinuousClock.Instant, isSocket: Bool?, queueMemory: Int?, activity: Int64?) {
            self.at = at
            self.isSocket = isSocket
            self.queueMemory = queueMemory
            self.activity = activity
        }
    }

    enum Verdict: Equatable {
        /// The receive thread read something since the first look.
        case reading
        /// The receive thread is gone; the text says what showed it.
        case deaf(String)
        /// Nothing either way yet.
        case undecided
    }

    let unreadLimit: Duration
    private var first: Look?
    private var previous: Look?
    /// The first look of the current run of looks that found datagrams waiting, and the run's length.
    private var unreadSince: ContinuousClock.Instant?
    private var unreadLooks = 0

    init(unreadLimit: Duration) {
        self.unreadLimit = unreadLimit
    }

    /// Adds a look and says what the looks so far show.
    mutating func add(_ look: Look) -> Verdict {
        defer {
            if first == nil { first = look }
            previous = look
        }
        if look.isSocket == false { return .deaf("its UDP descriptor is not a socket any more") }
        if let before = first?.activity, let now = look.activity, now > before { return .reading }
        if let before = previous?.queueMemory, let now = look.queueMemory, now < before { return .reading }
        guard let memory = look.queueMemory, memory > 0 else {
            unreadSince = nil
            unreadLooks = 0
            return .undecided
        }
        let since = unreadSince ?? look.at
        unreadSince = since
        unreadLooks += 1
        // Three looks at least: one look late by the scheduler must not stand for the whole limit.
        guard unreadLooks >= 3, look.at - since >= unreadLimit else { return .undecided }
        return .deaf("\(memory) bytes of datagrams waited unread for \(look.at - since), no counter moving")
    }

    /// Whether two looks made without a death signal, a check interval apart, call for a watch: the descriptor is not a
    /// socket any more, or datagrams waited at both looks with the queue not falling (a live thread empties it within
    /// microseconds, so two such looks in a row are rare).
    static func callsForWatch(_ before: Look?, _ now: Look) -> Bool {
        if now.isSocket == false { return true }
        guard let before = before?.queueMemory, let memory = now.queueMemory else { return false }
        return before > 0 && memory >= before
    }
}
