import SRTAdapter
import Synchronization

/// The relay's streams by name (``StreamHub``): made when the first publisher or reader of a name comes, forgotten
/// when the last one leaves. Read by the access control (on libsrt's thread: memory only) and the API.
final class StreamHubs: Sendable {
    private let hubs = Mutex<[String: StreamHub]>([:])
    /// Connections replaced by a newer publisher of their stream (`--takeover`): their end says so.
    private let replaced = Mutex<Set<Int>>([])

    /// The hub of `name`, made when missing, and `body`'s result; under the registry's lock, so that a hub is never
    /// forgotten while someone joins it.
    func withHub<T>(named name: String, _ body: (StreamHub) -> T) -> T {
        hubs.withLock { hubs in
            if let hub = hubs[name] { return body(hub) }
            let hub = StreamHub(name: name)
            hubs[name] = hub
            return body(hub)
        }
    }

    /// The hub of `name`, if the stream exists now.
    func hub(named name: String) -> StreamHub? {
        hubs.withLock { $0[name] }
    }

    /// Forgets `name`'s hub when nobody uses it any more.
    func forgetIfIdle(_ name: String) {
        hubs.withLock { hubs in
            if let hub = hubs[name], hub.isIdle { hubs.removeValue(forKey: name) }
        }
    }

    /// Every stream now, by name.
    var all: [StreamHub] {
        hubs.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// Whether `name` has a publisher now (the access control refuses a second one without `--takeover`).
    func isPublished(_ name: String) -> Bool {
        hub(named: name)?.publisher != nil
    }

    /// How many readers `name` has now.
    func readerCount(_ name: String) -> Int {
        hub(named: name)?.readerCount ?? 0
    }

    /// Connections closed through the API (`DELETE /v1/connections/{id}`): their end says so.
    private let kicked = Mutex<Set<Int>>([])

    func markKicked(_ id: Int) {
        _ = kicked.withLock { $0.insert(id) }
    }

    /// Whether connection `id` was closed through the API; forgets it.
    func takeKicked(_ id: Int) -> Bool {
        kicked.withLock { $0.remove(id) != nil }
    }

    /// Forgets whatever was marked for connection `id`: it ended, whatever ended it.
    func forgetMarks(_ id: Int) {
        _ = kicked.withLock { $0.remove(id) }
        _ = replaced.withLock { $0.remove(id) }
    }

    func markReplaced(_ id: Int) {
        _ = replaced.withLock { $0.insert(id) }
    }

    /// Whether connection `id` was replaced by a newer publisher; forgets it.
    func takeReplaced(_ id: Int) -> Bool {
        replaced.withLock { $0.remove(id) != nil }
    }
}
