@_spi(TestKit) import ServiceLifecycle

/// Whether a graceful shutdown can reach the current task.
///
/// Only a `ServiceGroup` shuts services down gracefully, through a task-local manager that it sets for each
/// service's task; without one, `withGracefulShutdownHandler` never calls its handler, and cancellation is the
/// only way a supervisor is stopped. A supervisor asks once, in `run()`: with no manager it runs the resource in its
/// own task (cancellation reaches it there) instead of a child task per start, which it needs only so that a
/// graceful shutdown can cancel the resource without cancelling the caller's task. A child task is 1.4 KiB and two
/// executor jobs for every start; 100,000 supervisors woken at once spent two thirds of their time on them.
///
/// swift-service-lifecycle exposes that task-local only as SPI (for its test kit); if a release renames it, this
/// file stops compiling rather than anything changing silently. `GracefulShutdownTests` checks both paths.
enum GracefulShutdownReach {
    static var isPossible: Bool {
        TaskLocals.gracefulShutdownManager != nil
    }
}
