import CSRT

/// The handshakes a listener's callback admitted and `accept` has not taken yet: they count against the connection
/// cap (under a flood many pass the callback before the first is accepted), and each source host may hold at most
/// its share of them. A pure value: the caller passes the time and how to tell a socket libsrt gave up on.
///
/// ```swift
/// var pending = PendingHandshakes(maxPerHost: 4)
/// let isGone: (SRTSOCKET) -> Bool = { SRTSocketState(srt_getsockstate($0)).isClosedOrBroken }
/// switch pending.admit(socket, host: "203.0.113.7", open: 10, cap: 64, now: .now, isGone: isGone) {
/// case .admitted: return 0                                   // the callback accepts the handshake
/// case .overCap, .overHostShare: reject(.overload)
/// }
/// pending.settle(socket)                                     // accepted: it counts among the open ones now
/// ```
///
/// Why a slot is freed as soon as libsrt drops the handshake: libsrt runs the listen callback before it checks
/// the caller's encryption (`CUDTUnited::newConnection` calls the hook, then `acceptAndRespond`, which rejects a
/// wrong or missing passphrase or an incompatible setting, closes the new socket and moves it to its closed
/// list). So an admitted socket may never reach `accept`. Each listener has one receive thread, which runs the
/// callback and the rest of `newConnection` for one handshake before it reads the next one: when the callback
/// runs again, every earlier admission has its fate. The ones libsrt rejected say `CLOSED` (or `NONEXIST` once its
/// garbage collector freed them), and the ones whose peer vanished before `accept` say `BROKEN` once libsrt gives
/// up on them. Whenever a limit would refuse a handshake, the admissions in those states are dropped first, so a
/// rejected handshake holds its slot until the next decision at most, never longer. A caller that repeats a
/// wrong-passphrase handshake a hundred times a second therefore holds no slot at all. ``lifetime`` is a backstop
/// only: an admission that neither `accept` nor libsrt ended in that time is dropped too.
struct PendingHandshakes: Sendable {
    /// What ``admit(_:host:open:cap:now:isGone:)`` decided.
    enum Verdict: Hashable, Sendable {
        case admitted
        /// Open connections and pending handshakes fill the connection cap.
        case overCap
        /// The caller's host already holds its share of the pending handshakes.
        case overHostShare
    }

    private struct Admission: Sendable {
        let host: String
        let instant: ContinuousClock.Instant
    }

    /// The backstop: an admission older than this is dropped even when libsrt still reports it pending.
    static let lifetime = Duration.seconds(10)

    /// The most pending handshakes one source host may hold.
    let maxPerHost: Int
    private var admissions: [SRTSOCKET: Admission] = [:]
    /// Pending handshakes by host, kept in step with `admissions`.
    private var perHost: [String: Int] = [:]

    init(maxPerHost: Int) {
        self.maxPerHost = maxPerHost
    }

    /// How many handshakes are pending.
    var count: Int {
        admissions.count
    }

    /// The sockets of the pending handshakes: libsrt's side of each connection not accepted yet.
    var admittedSockets: [SRTSOCKET] {
        Array(admissions.keys)
    }

    /// How many handshakes from `host` are pending.
    func count(from host: String) -> Int {
        perHost[host, default: 0]
    }

    /// Admits `socket` from `host` when `open` connections plus the pending handshakes stay under `cap` and the
    /// host stays within its share; before refusing, drops the admissions that `isGone` says libsrt ended (and
    /// those older than ``lifetime``), so that a rejected handshake never holds a slot past the next decision.
    mutating func admit(
        _ socket: SRTSOCKET, host: String, open: Int, cap: Int, now: ContinuousClock.Instant,
        isGone: (SRTSOCKET) -> Bool
    ) -> Verdict {
        // The state lookups take libsrt's global lock: only when a limit would refuse.
        if verdict(host: host, open: open, cap: cap) != .admitted { prune(now: now, isGone: isGone) }
        let verdict = verdict(host: host, open: open, cap: cap)
        guard verdict == .admitted else { return verdict }
        // A socket id libsrt reused after dropping it: the old admission is that same slot.
        settle(socket)
        admissions[socket] = Admission(host: host, instant: now)
        perHost[host, default: 0] += 1
        return .admitted
    }

    /// The handshake became a connection (it counts among the open ones now) or was given up.
    mutating func settle(_ socket: SRTSOCKET) {
        guard let admission = admissions.removeValue(forKey: socket) else { return }
        release(admission.host)
    }

    /// Drops the admissions `isGone` says libsrt ended, and those older than ``lifetime``.
    mutating func prune(now: ContinuousClock.Instant, isGone: (SRTSOCKET) -> Bool) {
        for (socket, admission) in admissions where now - admission.instant >= Self.lifetime || isGone(socket) {
            admissions.removeValue(forKey: socket)
            release(admission.host)
        }
    }

    private func verdict(host: String, open: Int, cap: Int) -> Verdict {
        if open + admissions.count >= cap { return .overCap }
        if count(from: host) >= maxPerHost { return .overHostShare }
        return .admitted
    }

    private mutating func release(_ host: String) {
        let left = perHost[host, default: 1] - 1
        perHost[host] = left > 0 ? left : nil
    }
}
