public import Supervisor

/// Collects a supervisor's events so that a test can wait for the one it expects.
///
/// Subscribe before the supervisor runs, so no event is missed:
///
/// ```swift
/// let recorder = EventRecorder(supervisor)
/// let task = Task { try await supervisor.run() }
/// let backoff = await recorder.next { if case .backingOff = $0 { true } else { false } }
/// ```
public final class EventRecorder: Sendable {
    private let stream: AsyncStream<SupervisorEvent>
    private let iterator: IteratorBox

    /// Subscribes to `supervisor`'s events.
    public init<Resource>(_ supervisor: ResourceSupervisor<Resource>) {
        stream = supervisor.events()
        iterator = IteratorBox(stream.makeAsyncIterator())
    }

    /// The next event for which `predicate` holds, skipping the others; `nil` when the supervisor stopped first.
    public func next(where predicate: @Sendable (SupervisorEvent) -> Bool = { _ in true }) async -> SupervisorEvent? {
        await iterator.next(where: predicate)
    }

    /// Every remaining event until the supervisor stops.
    public func rest() async -> [SupervisorEvent] {
        var events: [SupervisorEvent] = []
        while let event = await iterator.next(where: { _ in true }) { events.append(event) }
        return events
    }

    private actor IteratorBox {
        var iterator: AsyncStream<SupervisorEvent>.Iterator

        init(_ iterator: AsyncStream<SupervisorEvent>.Iterator) {
            self.iterator = iterator
        }

        func next(where predicate: @Sendable (SupervisorEvent) -> Bool) async -> SupervisorEvent? {
            // An actor cannot call a mutating async method on its own stored property; the iterator is a handle on
            // the stream's shared storage, so advancing a copy advances the stream.
            var copy = iterator
            defer { iterator = copy }
            while let event = await copy.next(isolation: self) {
                if predicate(event) { return event }
            }
            return nil
        }
    }
}
