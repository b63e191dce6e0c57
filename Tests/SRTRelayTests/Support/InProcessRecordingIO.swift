import Testing

/// The suites that drive srt-relay's RecordingIO inside the test process: they share its threads and its call
/// slots, so one suite's stalled calls would change another's counts. They run one at a time.
@Suite("srt-relay's RecordingIO in process, one suite at a time", .serialized)
enum InProcessRecordingIO {}
