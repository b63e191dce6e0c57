import Synchronization

/// The ``StreamConfiguration`` in force, read by every handshake (on libsrt's thread: one lock, no I/O) and replaced
/// whole by a reload; connections already open keep what they were admitted with.
final class LiveConfiguration: Sendable {
    let path: String
    private let current: Mutex<StreamConfiguration>

    init(path: String, configuration: StreamConfiguration) {
        self.path = path
        self.current = Mutex(configuration)
    }

    var configuration: StreamConfiguration {
        current.withLock { $0 }
    }

    /// Reads the file again and puts it in force; on any error the one in force stays, and the error says why.
    func reload() throws(ConfigurationFileError) -> StreamConfiguration {
        let loaded = try StreamConfiguration.load(from: path)
        current.withLock { $0 = loaded }
        return loaded
    }
}
