import Logging
import SRTAdapter
import Supervisor

/// Everything the relay runs with, validated: built from the command line by ``SRTRelayCommand/settings()``.
struct RelaySettings: Sendable {
    /// Where each accepted stream goes.
    enum Destination: Sendable {
        /// One file per stream in this directory.
        case record(directory: String)
        /// One stream at a time to a UDP address; the slot says whether a publisher holds it.
        case forward(ForwardTarget, ForwardSlot)
    }

    var listener: SRTListenerConfiguration
    var policy: RestartPolicy
    /// Past it the relay closes every recording and exits with ``RelayServiceGroup/leakLimitExitCode``.
    var leakLimit: SRTLeakLimit
    var destination: Destination
    /// How recordings are written (bounds, fsync, rotation, free space).
    var recording = RecordingOptions()
    /// Who may publish and read what (the handshake's decisions), the streams by name (shared by the access control,
    /// the connections and the API), and the settings of publishing and reading.
    var access = StreamAccess(hubs: StreamHubs(), streams: StreamSettings())
    var json: Bool
    /// `nil`: no status lines.
    var statusInterval: Duration?
    /// `nil`: no periodic fault injection.
    var chaosPeriod: Duration?
    var chaosOnSignal: Bool
    /// Where to serve `/metrics` and `/healthz`; `nil`: nowhere.
    var metrics: (host: String, port: Int)?
    var logLevel: Logger.Level
    /// Listening on an address other machines can reach, with neither a passphrase nor an allow list: anyone who
    /// reaches the port may publish. The relay warns at start.
    var isOpenToAnyone = false

    /// 100 dead multiplexers kept by libsrt are about 140 MiB, 100 threads and 100 descriptors (of a soft limit that
    /// is often 1,024, shared with recordings); a receive thread dies only on a kernel error on the listener's socket,
    /// so 100 of them means a host in trouble, and a fresh process frees all of it.
    static let defaultMaxLeakedMultiplexers = 100
}
