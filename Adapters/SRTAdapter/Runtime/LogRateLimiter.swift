/// Keeps a flood of one kind of message from flooding the log: of each kind, the first ``burst`` messages of an
/// episode are logged, the rest are counted, and one summary line per ``interval`` says how many were left out.
/// A pure value: the caller passes the time (tests pass any instants they like).
///
/// ```swift
/// var limiter = LogRateLimiter<String>(burst: 3, interval: .seconds(10))
/// // For each message, keyed by its kind (libsrt's file and line, or the adapter's own name for it):
/// switch limiter.admit("core.cpp:1234", message: message, now: .now) {
/// case .log: logger.error("\(message)")
/// case .suppress: break                                        // counted
/// }
/// // On the next message of any kind, and from a timer at `limiter.nextSummaryDue(now:)`:
/// for summary in limiter.summaries(now: .now) {
///     logger.error("\(summary.suppressed) more like \"\(summary.lastMessage)\" in \(summary.period)")
/// }
/// ```
///
/// An episode of a kind starts with its first message after a quiet ``interval`` (none of that kind): its first
/// ``burst`` messages are logged. From then on each message is counted, and a summary is due once every
/// ``interval`` while any were counted. After an ``interval`` without a message of that kind the episode ends with
/// its last summary, and the next message starts a new one. So a steady flood of one kind costs ``burst`` lines, then
/// one line per ``interval``; an occasional message is always logged. At most ``maxKinds`` kinds are tracked:
/// beyond, a new kind is logged and not counted (libsrt's kinds are its source lines, a few hundred at most).
struct LogRateLimiter<Message: Sendable>: Sendable {
    /// What to do with one message.
    enum Decision: Hashable, Sendable {
        case log
        /// Counted, to appear in a summary.
        case suppress
    }

    /// How many messages of one kind were left out, over which period, and the last of them.
    struct Summary: Sendable {
        let key: String
        let suppressed: Int
        let period: Duration
        /// The last message counted.
        let lastMessage: Message
    }

    private struct Episode: Sendable {
        var logged = 0
        var suppressed = 0
        var lastMessage: Message?
        /// When the counted messages began (the previous summary, or the burst's end).
        var countingSince: ContinuousClock.Instant
        var lastSeen: ContinuousClock.Instant
    }

    /// Messages of a kind logged at the start of an episode.
    let burst: Int
    /// The most one summary line of a kind covers, and the quiet time that ends an episode.
    let interval: Duration
    /// The most kinds tracked at once.
    let maxKinds: Int
    private var episodes: [String: Episode] = [:]
    /// Last summaries of episodes that ended and were replaced before ``summaries(now:)`` gave them out.
    private var ended: [Summary] = []

    init(burst: Int, interval: Duration, maxKinds: Int = 1_024) {
        self.burst = max(0, burst)
        self.interval = max(interval, .nanoseconds(1))
        self.maxKinds = max(1, maxKinds)
    }

    /// Whether the message of kind `key` that arrived `now` is logged or counted; `message` is kept as the last one
    /// counted, for the summary.
    mutating func admit(_ key: String, message: Message, now: ContinuousClock.Instant) -> Decision {
        guard var episode = episodes[key], now - episode.lastSeen < interval else {
            // A new episode; an ended one not summarised yet keeps its count for the next `summaries(now:)`.
            if let old = episodes[key], old.suppressed > 0, let last = old.lastMessage {
                ended.append(
                    Summary(
                        key: key, suppressed: old.suppressed, period: old.lastSeen - old.countingSince,
                        lastMessage: last))
            }
            guard episodes[key] != nil || episodes.count < maxKinds else { return .log }
            episodes[key] = Episode(logged: 1, countingSince: now, lastSeen: now)
            return burst > 0 ? .log : countFirst(key, message: message, now: now)
        }
        episode.lastSeen = now
        if episode.logged < burst {
            episode.logged += 1
            episode.countingSince = now
            episodes[key] = episode
            return .log
        }
        episode.suppressed += 1
        episode.lastMessage = message
        episodes[key] = episode
        return .suppress
    }

    /// The summaries due `now`: of each kind with counted messages, once an ``interval`` has passed since its
    /// counting began, or once its episode ended. Forgets the ended episodes.
    mutating func summaries(now: ContinuousClock.Instant) -> [Summary] {
        var due = ended
        ended = []
        for (key, var episode) in episodes {
            let ended = now - episode.lastSeen >= interval
            if episode.suppressed > 0, let last = episode.lastMessage,
                ended || now - episode.countingSince >= interval
            {
                // An ended episode's count covers its counting up to its last message, not the quiet after it.
                let until = ended ? episode.lastSeen : now
                due.append(
                    Summary(
                        key: key, suppressed: episode.suppressed, period: until - episode.countingSince,
                        lastMessage: last))
                episode.suppressed = 0
                episode.countingSince = now
            }
            episodes[key] = ended ? nil : episode
        }
        return due
    }

    /// When the next summary is due (`now` at the earliest), `nil` while nothing is counted: a timer calls
    /// ``summaries(now:)`` then.
    func nextSummaryDue(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        if !ended.isEmpty { return now }
        return episodes.values.filter { $0.suppressed > 0 }.map { max(now, $0.countingSince + interval) }.min()
    }

    /// With a burst of 0, the first message of an episode is counted too.
    private mutating func countFirst(_ key: String, message: Message, now: ContinuousClock.Instant) -> Decision {
        episodes[key] = Episode(logged: 0, suppressed: 1, lastMessage: message, countingSince: now, lastSeen: now)
        return .suppress
    }
}
