/// A long-lived resource that a `ResourceSupervisor` can bring up, serve with, and release, again and again.
///
/// The supervisor drives it through one cycle at a time: ``start()`` brings a fresh instance up (bind, listen);
/// ``run(_:)`` serves with it until it fails or ends; ``stop(_:)`` releases it, always, before the next start.
///
/// ```swift
/// struct UDPReceiver: Restartable {
///     var port: Int
///     func start() async throws -> UDPSocket { try UDPSocket(bindingTo: port) }
///     func run(_ socket: UDPSocket) async throws {
///         for try await datagram in socket.datagrams { handle(datagram) }
///     }
///     func stop(_ socket: UDPSocket) async { socket.close() }
/// }
/// ```
///
/// Contract, which the supervisor relies on:
/// - `start()` and `run(_:)` return or throw promptly when their task is cancelled; that is how the supervisor
///   shuts a resource down. Whatever they throw then is not counted as a failure. A `CancellationError` thrown
///   while the supervisor is *not* stopping (a timeout helper, an inner task group) is a failure like any other.
/// - `stop(_:)` runs in a task that is not cancelled, so its own `try await` clean-up works; a policy's
///   `stopTimeout` bounds how long the supervisor waits for it.
/// - `stop(_:)` is called exactly once for every instance that `start()` returned, after `run(_:)` has returned.
///   It must not throw; it should release what it can and log the rest.
/// - Errors thrown from `start()` are *start failures* (the resource never became ready), errors thrown from
///   `run(_:)` are *deaths after ready*; a ``RestartPolicy`` may treat them differently.
/// - Under a graceful-shutdown manager (a swift-service-lifecycle `ServiceGroup`), a graceful shutdown must end a
///   run without cancelling the caller's task. By default the supervisor runs the resource in a child task that the
///   shutdown cancels; a resource that can end a run from outside (a socket it can close) says so with
///   ``endsRunOnRequest`` and ``endRun(_:)``, and saves that child task on every start.
public protocol Restartable: Sendable {
    /// What a successful start produces: a socket, a listener, a connection.
    associatedtype Instance: Sendable

    /// Brings up a new instance. Throwing here is a start failure.
    func start() async throws -> Instance

    /// Serves with `instance` until it fails (throws) or ends (returns).
    func run(_ instance: Instance) async throws

    /// Releases `instance`; called once per instance, after `run(_:)` returned, before any restart.
    func stop(_ instance: Instance) async

    /// Whether ``endRun(_:)`` makes a run return; `false` by default. Read once per start, before the run.
    var endsRunOnRequest: Bool { get }

    /// Makes `run(instance)` return or throw soon, from another task (a graceful shutdown's), without cancelling
    /// it: close what it reads. Called at most once per instance and only when ``endsRunOnRequest``. It may come
    /// just before `run(_:)` begins (which must then return at once: it finds the instance closed), as the run ends
    /// by itself, or while or after `stop(_:)` runs: so a close that can be repeated and that leaves an instance
    /// already released alone (never a close of a bare descriptor number, which may name another file by then).
    /// Should not wait. Does nothing by default.
    func endRun(_ instance: Instance)
}

extension Restartable {
    public var endsRunOnRequest: Bool { false }
    public func endRun(_ instance: Instance) {}
}

/// A ``Restartable`` made of three closures, for resources that do not need a type of their own.
///
/// ```swift
/// let resource = RestartableResource(
///     start: { try await Connection.open(to: endpoint) },
///     run: { connection in try await connection.pump() },
///     stop: { connection in await connection.close() }
/// )
/// ```
public struct RestartableResource<Instance: Sendable>: Restartable {
    private let startBody: @Sendable () async throws -> Instance
    private let runBody: @Sendable (Instance) async throws -> Void
    private let stopBody: @Sendable (Instance) async -> Void
    private let endRunBody: (@Sendable (Instance) -> Void)?

    /// Creates a resource from its start, run and stop steps; `stop` defaults to doing nothing. `endRun`, when
    /// given, makes a run return from outside (``Restartable/endRun(_:)``).
    public init(
        start: @escaping @Sendable () async throws -> Instance,
        run: @escaping @Sendable (Instance) async throws -> Void,
        stop: @escaping @Sendable (Instance) async -> Void = { _ in },
        endRun: (@Sendable (Instance) -> Void)? = nil
    ) {
        self.startBody = start
        self.runBody = run
        self.stopBody = stop
        self.endRunBody = endRun
    }

    public func start() async throws -> Instance { try await startBody() }
    public func run(_ instance: Instance) async throws { try await runBody(instance) }
    public func stop(_ instance: Instance) async { await stopBody(instance) }
    public var endsRunOnRequest: Bool { endRunBody != nil }
    public func endRun(_ instance: Instance) { endRunBody?(instance) }
}
