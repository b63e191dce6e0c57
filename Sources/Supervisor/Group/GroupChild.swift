import Logging
import Metrics
public import ServiceLifecycle

/// One child of a ``SupervisorGroup``: what to run, under which name, and how the group treats its end.
///
/// Each child is kept by a supervisor of its own, with its own ``RestartPolicy``: its backoff, jitter,
/// classification, intensity and degrade work as they do for a lone ``ResourceSupervisor``. Where the child's
/// ``ChildRestart`` says the group decides, it overrides the policy: a transient child's normal return ends its
/// supervisor (whatever `onCompletion` says), and a temporary child's supervisor ends at its first failure or
/// return. The group hears when the child is ready and when it fails, and applies its ``GroupStrategy`` to the
/// siblings. When the child's supervisor
/// ends (it gives up, or its classifier stops it, or a child group escalates), its ``ChildRestart`` says whether the
/// group starts it again with a fresh supervisor.
///
/// ```swift
/// let children = [
///     try GroupChild.resource(listener, name: "listener", policy: listenerPolicy),
///     try GroupChild.service(metricsServer, name: "metrics"),
///     try GroupChild.group(name: "streams", strategy: .oneForOne, children: []),
/// ]
/// ```
public struct GroupChild: Sendable {
    /// Unique among its siblings; the last part of its path (`relay/listener`).
    public let name: String
    /// Whether the group starts it again after its supervisor ended.
    public let restart: ChildRestart
    /// Whether its end, when the group does not start it again, ends the group (OTP's auto-shutdown): a transient
    /// child's normal end, a temporary child's any end. A group ended by a significant child's failure throws
    /// ``SupervisorError`` with code ``SupervisorError/Code/childFailed``.
    public let significant: Bool
    /// A fresh member for each run of the child.
    let make: @Sendable (MemberContext) -> any GroupMember

    private init(
        name: String, restart: ChildRestart, significant: Bool,
        make: @escaping @Sendable (MemberContext) -> any GroupMember
    ) throws(ConfigurationError) {
        guard !name.isEmpty, !name.contains("/") else {
            throw ConfigurationError(.inconsistent, option: "name", "must be non-empty without '/', got '\(name)'")
        }
        // As in OTP: a permanent child is always started again, so its end could never end the group.
        guard !significant || restart != .permanent else {
            throw ConfigurationError(
                .inconsistent, option: "significant", "\(name): a significant child must be transient or temporary")
        }
        self.name = name
        self.restart = restart
        self.significant = significant
        self.make = make
    }

    /// A ``Restartable`` resource, kept by its own supervisor with `policy`.
    ///
    /// - Throws: ``ConfigurationError`` when `name` is empty or contains `/`, or for a significant permanent child.
    public static func resource<Resource: Restartable>(
        _ resource: Resource,
        name: String,
        policy: RestartPolicy = .default,
        restart: ChildRestart = .permanent,
        significant: Bool = false
    ) throws(ConfigurationError) -> GroupChild {
        let policy = childPolicy(policy, restart: restart)
        return try GroupChild(name: name, restart: restart, significant: significant) { context in
            guard context.gated else { return supervisor(of: resource, policy: policy, in: context) }
            return supervisor(of: GatedResource(base: resource, link: context.link), policy: policy, in: context)
        }
    }

    /// The supervisor of one run of a resource child.
    private static func supervisor<R: Restartable>(
        of resource: R, policy: RestartPolicy, in context: MemberContext
    ) -> any GroupMember {
        ResourceSupervisor(
            resource,
            name: context.path,
            policy: policy,
            clock: context.clock,
            generator: { [seed = context.seed] in SplitMix64(seed: seed) },
            logger: context.logger,
            metricsFactory: context.metricsFactory,
            link: context.link
        )
    }

    /// The policy of a child's own supervisor: `policy`, except where the group decides. A transient child's normal
    /// end ends its supervisor (the group leaves it stopped), and a temporary child's supervisor ends at its first
    /// failure or end (the group never starts it again); a permanent child restarts on its own as `policy` says.
    static func childPolicy(_ policy: RestartPolicy, restart: ChildRestart) -> RestartPolicy {
        switch restart.kind {
        case .permanent: policy
        case .transient: policy.with(onCompletion: .finish, maxAttempts: policy.maxAttempts)
        case .temporary: policy.with(onCompletion: .finish, maxAttempts: 1)
        }
    }

    /// A swift-service-lifecycle `Service`, restarted when its `run()` throws or returns, as ``ServiceResource``
    /// describes.
    ///
    /// - Throws: ``ConfigurationError`` when `name` is empty or contains `/`, for a significant permanent child, or
    ///   for a ``SupervisorGroup`` or ``ResourceSupervisor``, each of which runs once: pass a group's children to
    ///   `group(name:...)` and a supervisor's resource to `resource(_:name:...)` instead.
    public static func service<S: Service>(
        _ service: S,
        name: String,
        policy: RestartPolicy = .default,
        restart: ChildRestart = .permanent,
        significant: Bool = false
    ) throws(ConfigurationError) -> GroupChild {
        // A child runs again as a fresh member; these run once.
        guard !(service is any RunsOnce) else {
            throw ConfigurationError(
                .inconsistent, option: "service",
                "\(name): a SupervisorGroup or ResourceSupervisor runs once; give its children with .group(...) or "
                    + "its resource with .resource(...)")
        }
        return try resource(
            ServiceResource(service), name: name, policy: policy, restart: restart, significant: significant)
    }

    /// A group of its own: it is ready once its children have started, and when its restart intensity trips it
    /// stops its children and fails to this group, which applies its own strategy. Started again, it starts with
    /// the children its last run had, those added at run time too (temporary ones excepted).
    ///
    /// - Throws: ``ConfigurationError`` for an invalid name, a cap below one or below the number of `children`, or
    ///   two children with the same name.
    public static func group(
        name: String,
        strategy: GroupStrategy = .oneForOne,
        intensity: RestartIntensity? = nil,
        maxChildren: Int = SupervisorGroup.defaultMaxChildren,
        restart: ChildRestart = .permanent,
        significant: Bool = false,
        children: [GroupChild]
    ) throws(ConfigurationError) -> GroupChild {
        try SupervisorGroup.validate(maxChildren: maxChildren, children: children)
        return try GroupChild(name: name, restart: restart, significant: significant) { context in
            SupervisorGroup(
                nested: context, strategy: strategy, intensity: intensity, maxChildren: maxChildren,
                children: context.carriedChildren ?? children)
        }
    }
}

/// What a group gives a child's new member: where it sits and what it runs on.
struct MemberContext: Sendable {
    let path: String
    let clock: any Clock<Duration>
    /// Seeds the member's generator: drawn from the group's, so that a seeded tree is reproducible.
    let seed: UInt64
    let logger: Logger
    let metricsFactory: any MetricsFactory
    let link: GroupLink
    /// Whether each start waits for the group's permit: not under oneForOne, where nothing waits for a child that
    /// restarts itself (and a parked child then costs the group nothing more).
    let gated: Bool
    /// For a nested group started again: the children its last run had, those added at run time included.
    let carriedChildren: [GroupChild]?
}

/// What keeps one run of a child: a child's supervisor, or a nested group.
protocol GroupMember: AnyObject, Sendable {
    /// Supervises until stopped (returns), a normal end (returns) or giving up (throws).
    func run() async throws
    /// What the member is doing, for a snapshot.
    var detail: GroupSnapshot.Detail { get }
}

extension ResourceSupervisor: GroupMember {
    var detail: GroupSnapshot.Detail { .resource(state) }
}

/// A child's resource as its own supervisor runs it in a group: each start waits until the group lets it go, so
/// that a child that restarts itself after its backoff still starts in the order the group's strategy says.
struct GatedResource<Base: Restartable>: Restartable {
    let base: Base
    let link: GroupLink

    func start() async throws -> Base.Instance {
        // Refused only when the child is being stopped: its supervisor takes this for the shutdown it is.
        guard await link.awaitStart() else { throw CancellationError() }
        return try await base.start()
    }

    func run(_ instance: Base.Instance) async throws { try await base.run(instance) }

    func stop(_ instance: Base.Instance) async { await base.stop(instance) }
}

/// What runs once: a supervisor or a group, which a group cannot run again as a service child.
protocol RunsOnce {}

extension ResourceSupervisor: RunsOnce {}

extension SupervisorGroup: RunsOnce {}
