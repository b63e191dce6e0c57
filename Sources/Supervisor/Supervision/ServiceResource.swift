public import ServiceLifecycle

/// A swift-service-lifecycle `Service` as a ``Restartable``: the service is its own instance, `run(_:)` runs it,
/// and there is nothing to release. A supervisor restarts it when its `run()` throws or returns, with the same
/// policies as any resource.
///
/// ```swift
/// let supervisor = ResourceSupervisor(
///     ServiceResource(metricsServer),
///     name: "metrics",
///     policy: try RestartPolicy(backoff: .exponential(maximum: .seconds(10)))
/// )
/// let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm], logger: logger)
/// ```
///
/// The service is stopped by cancelling its `run()`, as a graceful shutdown of the supervisor does: a service
/// must end promptly when its task is cancelled. The same value runs again after each failure, so a service that
/// keeps state between runs must reset it at the top of `run()`.
public struct ServiceResource<S: Service>: Restartable {
    /// The service that each run runs.
    public let service: S

    public init(_ service: S) {
        self.service = service
    }

    public func start() async throws -> S { service }

    public func run(_ service: S) async throws { try await service.run() }

    public func stop(_ service: S) async {}
}
