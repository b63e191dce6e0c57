import Testing

/// The suites that start child processes (exit tests, srt-live-transmit) or measure how promptly a wake-up comes,
/// one at a time.
///
/// Measured: while a child process runs, a Swift pool thread of the test process can stay blocked for the child's
/// lifetime (Swift Testing's exit-test plumbing, Foundation's `Process`); with two cores that delays every other
/// task's wake-up by up to seconds, which a "within 300 ms" check reads as an adapter bug. The adapter's own
/// threads were never the cause (the reactor's waits, sweeps and subscriptions all stayed under 300 ms).
@Suite("Loopback suites, one at a time", .serialized)
enum Loopback {}
