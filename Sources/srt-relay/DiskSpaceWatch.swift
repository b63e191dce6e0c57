import ServiceLifecycle

/// Measures the recordings' free space every ``period`` for ``DiskSpaceGuard`` and prints a line when it falls
/// below `--min-free` and when it is back. A `Service`, in the relay's group when `--min-free` is set.
///
/// ```text
/// 12:00:01.250 disk space low: 900 MiB free in recordings, below --min-free 1 GiB: refusing new publishers (1507) and ending live recordings
/// 12:03:11.500 disk space back: 12.4 GiB free in recordings; accepting publishers again
/// 12:04:00.000 ! disk space of recordings unknown: create directory recordings: Permission denied; the last reading (enough) holds until it is measured
/// ```
struct DiskSpaceWatch: Service {
    let space: DiskSpaceGuard
    let console: Console

    /// How often the free space is measured.
    static let period = Duration.milliseconds(250)

    func run() async {
        await cancelWhenGracefulShutdown {
            var shown = false
            var failing = false
            while !Task.isCancelled {
                // One line when measuring starts to fail (the guard keeps its last reading meanwhile).
                switch await space.check() {
                case .success: failing = false
                case .failure(let error):
                    if !failing { emit(error) }
                    failing = true
                }
                // Recorders record what they measure too: the line follows whoever saw the change first.
                let isLow = space.isLow
                if isLow != shown {
                    shown = isLow
                    emit(isLow: isLow)
                }
                try? await Task.sleep(for: Self.period)
            }
        }
        // Ending before its turn in the group's shutdown would fail the group.
        try? await gracefulShutdown()
    }

    private func emit(_ error: SinkError) {
        let kept = space.isLow ? "low" : "enough"
        console.emit(
            "disk-space-unknown",
            "! disk space of \(space.directory) unknown: \(error); the last reading (\(kept)) holds until it is measured",
            ["directory": .string(space.directory), "error": .string("\(error)"), "errno": .int(Int64(error.errno))])
    }

    private func emit(isLow: Bool) {
        let reading = space.lastReading
        let free = reading.map { ByteSize.describe($0.available) } ?? "?"
        let fields: KeyValuePairs<String, Console.Value> = [
            "directory": .string(space.directory), "available_bytes": .int(Int64(clamping: reading?.available ?? 0)),
            "min_free_bytes": .int(Int64(clamping: space.minimum)),
        ]
        if isLow {
            console.emit(
                "disk-space-low",
                "disk space low: \(free) free in \(space.directory), below --min-free \(space.threshold): refusing "
                    + "new publishers (\(DiskSpaceGuard.rejectReason)) and ending live recordings",
                fields)
        } else {
            console.emit(
                "disk-space-ok", "disk space back: \(free) free in \(space.directory); accepting publishers again",
                fields)
        }
    }
}
