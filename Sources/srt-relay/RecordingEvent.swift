/// What a ``FileRecorder`` tells the relay while it records, for the lines and the counters.
///
/// ```swift
/// let recorder = try await FileRecorder.create(
///     in: "recordings", options: options, name: { _, _ in "cam1-20261129T153005Z.ts" },
///     report: { event in
///         if case .retrying(let error, let held) = event { print("\(error); holding \(held) bytes") }
///     })
/// ```
enum RecordingEvent: Sendable {
    /// A write failed with a transient error; `held` bytes wait in memory and the write is retried with backoff.
    case retrying(SinkError, held: Int)
    /// Writes succeed again, after `failedFor` and `retries` retries.
    case recovered(failedFor: Duration, retries: Int)
    /// The recording went on in a new segment, the `index`-th.
    case segmentOpened(path: String, index: Int)
    /// `fsync` or `close` of a file failed: what is in the file may not be on the disk.
    case outputError(SinkError)
}
