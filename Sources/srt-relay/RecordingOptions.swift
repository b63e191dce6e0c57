import Supervisor

/// How recordings are written: bounds, durability and rotation; the relay's flags, validated.
///
/// ```swift
/// var options = RecordingOptions()
/// options.heldTime = .seconds(2)
/// ```
struct RecordingOptions: Sendable {
    /// How much of its stream one recording holds in memory while its disk does not take them (a full disk, a slow
    /// one), at the rate the stream came in over the last second, between ``minHeldBytes`` and ``maxHeldBytes``:
    /// beyond it the recording ends, with the reason, and the publisher is closed. A bound in time rides out the
    /// same disk hiccup at any rate (8 MiB alone lasts 134 ms at 500 Mbit/s), and all recordings together hold at
    /// most that long of what the relay takes in.
    var heldTime = Duration.seconds(1)
    /// What a recording may hold whatever its rate: a slow stream still rides out a disk's hiccup of seconds.
    var minHeldBytes = 8 << 20
    /// What a recording may hold at most, however fast its stream.
    var maxHeldBytes = 64 << 20
    /// Bytes gathered before a write.
    var chunkSize = 256 * 1024
    /// The disk writes of every 4 MiB written are started at once (``RecordingIO/startWriteback(_:_:)``), so that a
    /// fsync has little left to write.
    static let writebackStep = 4 << 20
    /// How often what waits in memory is written and the file fsynced; `nil`: only when the recording ends (and
    /// what waits is written at each ``chunkSize``).
    var fsyncInterval: Duration? = Self.standardFsyncInterval
    /// 5 s: a crash or a power cut loses at most the last few seconds of each recording.
    static let standardFsyncInterval = Duration.seconds(5)
    /// Cut the recording into a new segment this often (measured on arrival); `nil`: never by time.
    var segmentDuration: Duration?
    /// Cut the recording into a new segment at this many bytes, a multiple of ``packetSize``; `nil`: never by size.
    var segmentSize: Int?
    /// An MPEG-TS packet: segments begin at multiples of it, counted from the stream's first byte.
    static let packetSize: UInt64 = 188

    /// Whether recordings are cut into numbered segments.
    var rotates: Bool {
        segmentDuration != nil || segmentSize != nil
    }

    /// How long a recording's start (its directory and first file) may wait for the disk before the publisher is
    /// refused: a disk that stalls (frozen, a hung NFS server) must not hold the connection, nor the shutdown.
    var startLimit = Duration.seconds(5)
    /// How long the end of a recording may wait, past its limit, for the last `fsync` and `close` of a writer that
    /// gave the rest up; then the close gives up waiting for a disk that does not answer.
    var answerGrace = Duration.milliseconds(250)

    /// `--min-free`: where free space is watched; `nil`: nowhere (forwarding, or `--min-free 0`).
    var space: DiskSpaceGuard?
    /// The delays between retries of a write that failed with a transient error.
    var retryBackoff: Backoff = Self.standardRetryBackoff

    /// 50 ms, doubling to at most 1 s, full jitter.
    static let standardRetryBackoff: Backoff = {
        // Valid constants: the initializer cannot throw here; a `Backoff` of 1 s constant is the fallback anyway.
        let exponential = try? Backoff.exponential(initial: .milliseconds(50), maximum: .seconds(1))
        return (exponential ?? Backoff.custom { _ in .seconds(1) }).jitter(.full)
    }()
}
