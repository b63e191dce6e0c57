import ServiceLifecycle

/// Measures the recordings' free space every ``period`` for ``DiskSpaceGuard`` and prints a line when it falls
/// below `--min-free` and when it is back. A `Service`, in the relay's group when `--min-free` is set.
///
/// ```text
/// 12:00:01.250 disk space low: 900 MiB free in recordings, below --min-free 1 GiB: refusing new publishers (1507) and ending live recordings
/// 12:03:11.500 disk space back: 12.4 GiB free in recordings; accepting publishers again
/// ```
struct DiskSpaceWatch: Service {
    let space: DiskSpaceGuard
    let console: Console

    /// How often the free space is measured.
    static let period = Duration.milliseconds(250)

    func run() async {
        await cancelWhenGracefulShutdown {
            var shown = false
            while !Task.isCancelled {
                await space.check()
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
