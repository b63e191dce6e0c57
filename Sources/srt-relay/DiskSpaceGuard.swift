import SRTAdapter
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--min-free`: the free space of the recordings' file system, as last measured. While it is below the threshold
/// the relay refuses new publishers (reject reason 1507, "no room") and every live recording ends at its next
/// write. ``DiskSpaceWatch`` measures it periodically and says when it crosses the threshold; recorders record
/// what they measure after each write.
///
/// ```swift
/// let space = DiskSpaceGuard(directory: "recordings", threshold: .standard)
/// if space.isLow { return .reject(DiskSpaceGuard.rejectReason) }
/// ```
final class DiskSpaceGuard: Sendable {
    /// What `statvfs` says of a file system: bytes available to the relay and its size.
    struct Reading: Sendable {
        var available: UInt64
        var total: UInt64
    }

    let directory: String
    let threshold: FreeSpaceThreshold
    private let low = Atomic(false)
    private let last = Mutex<Reading?>(nil)

    /// 1507 (`SRT_REJX_NOROOM`): "the stream cannot be archived due to lacking storage space".
    static let rejectReason: SRTRejectReason = (try? SRTRejectReason(code: 1507)) ?? .unavailable

    init(directory: String, threshold: FreeSpaceThreshold) {
        self.directory = directory
        self.threshold = threshold
    }

    /// Whether space was below the threshold at the last measurement; always `false` without a threshold.
    var isLow: Bool {
        low.load(ordering: .relaxed)
    }

    /// The last measurement, if any.
    var lastReading: Reading? {
        last.withLock { $0 }
    }

    /// The bytes to keep free on the file system last measured.
    var minimum: UInt64 {
        threshold.bytes(ofTotal: lastReading?.total ?? 0)
    }

    /// How long a measurement may wait for the disk: one that does not answer (frozen, a hung NFS server) must not
    /// hold the watch, nor the shutdown.
    static let measureLimit = Duration.seconds(1)

    /// Measures the directory now (on ``RecordingIO``'s threads) and records it; the reading, or why there is none
    /// (the last reading then stays). A directory that was removed (by an operator, a cleanup job) is created
    /// again, as the next recording would, and measured: the guard follows the disk the recordings go to.
    ///
    /// ```swift
    /// if case .failure(let error) = await space.check() { print(error) }   // "statvfs recordings: Permission denied"
    /// ```
    @discardableResult
    func check() async -> Result<Reading, SinkError> {
        let directory = self.directory
        let answered = await RecordingIO.run(within: Self.measureLimit) { Self.measureCreating(directory) }
        guard let result = answered.value else {
            // Not measured (nor submitted, when refused): the last reading stays.
            return .failure(
                SinkError(
                    operation: "statvfs \(directory)", errno: ETIMEDOUT, kind: .diskStalled,
                    detail: answered.isRefused
                        ? "the disk does not answer: \(RecordingIO.maximumStalledCalls) file system calls still wait"
                        : "the disk did not answer within \(Units.duration(Self.measureLimit))"))
        }
        if case .success(let reading) = result { record(reading) }
        return result
    }

    /// `statvfs` of `directory`, created first if it is missing.
    private static func measureCreating(_ directory: String) -> Result<Reading, SinkError> {
        var stats = statvfs()
        if statvfs(directory, &stats) == 0 { return .success(Reading(stats)) }
        guard errno == ENOENT else { return .failure(SinkError(operation: "statvfs \(directory)", errno: errno)) }
        do throws(SinkError) {
            try FileRecorder.makeDirectories(directory)
        } catch {
            return .failure(error)
        }
        guard statvfs(directory, &stats) == 0 else {
            return .failure(SinkError(operation: "statvfs \(directory)", errno: errno))
        }
        return .success(Reading(stats))
    }

    /// Records a reading; returns whether space is low.
    @discardableResult
    func record(_ reading: Reading) -> Bool {
        guard threshold.isEnabled else { return false }
        last.withLock { $0 = reading }
        let isLow = reading.available < threshold.bytes(ofTotal: reading.total)
        low.store(isLow, ordering: .relaxed)
        return isLow
    }

    /// Why a recording ends, or a publisher is refused, while space is low.
    func lowSpaceError() -> SinkError {
        let free = lastReading.map { "\(ByteSize.describe($0.available)) free" } ?? "too little space"
        return SinkError(
            operation: "record in \(directory)", errno: ENOSPC, kind: .lowSpace,
            detail: "disk space low: \(free), below --min-free \(threshold)")
    }

    /// `statvfs` of `path`: the space an unprivileged user may still take, and the size.
    static func measure(path: String) -> Reading? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return Reading(stats)
    }

    /// `fstatvfs` of an open file's file system.
    static func measure(descriptor: Int32) -> Reading? {
        var stats = statvfs()
        guard fstatvfs(descriptor, &stats) == 0 else { return nil }
        return Reading(stats)
    }
}

extension DiskSpaceGuard.Reading {
    init(_ stats: statvfs) {
        let unit = UInt64(stats.f_frsize)
        available = UInt64(stats.f_bavail).multipliedReportingOverflow(by: unit).partialValue
        total = UInt64(stats.f_blocks).multipliedReportingOverflow(by: unit).partialValue
    }
}
