import SRTAdapter
import ServiceLifecycle
import Supervisor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// systemd `Type=notify` without libsystemd: datagrams to `$NOTIFY_SOCKET` (a path, or `@name` for the abstract
/// namespace). `READY=1` once the listener first listens, `STATUS=` on every state change, `WATCHDOG=1` every half
/// of `$WATCHDOG_USEC` when set (for this pid), `STOPPING=1` when the shutdown begins.
///
/// ```ini
/// [Service]
/// Type=notify
/// ExecStart=/usr/local/bin/srt-relay --output /var/lib/srt-relay
/// WatchdogSec=10
/// ```
struct SystemdNotifier: Service {
    let server: SRTServer
    let socketPath: String
    /// Half the watchdog period, or `nil` without a watchdog.
    let watchdogInterval: Duration?
    private let events: AsyncStream<SupervisorEvent>

    /// A notifier when the process runs under systemd with a notification socket, else `nil`.
    init?(server: SRTServer, environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) {
        guard let path = environment("NOTIFY_SOCKET"), path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        self.server = server
        self.socketPath = path
        let forUs = environment("WATCHDOG_PID").map { Int32($0) == getpid() } ?? true
        if forUs, let text = environment("WATCHDOG_USEC"), let microseconds = Int64(text), microseconds > 0 {
            watchdogInterval = .microseconds(microseconds / 2)
        } else {
            watchdogInterval = nil
        }
        events = server.supervisor.events()
    }

    func run() async {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var ready = false
                for await event in events {
                    let address = server.localAddress.map { "\($0)" } ?? "?"
                    // From the event, not the state: by the time it is read, a zero backoff is over.
                    switch event {
                    case .ready where !ready:
                        ready = true
                        send("READY=1\nSTATUS=listening on \(address)", on: descriptor)
                    case .ready:
                        send("STATUS=listening on \(address)", on: descriptor)
                    case .backingOff(let delay, _, let attempt):
                        send("STATUS=backing off \(Units.duration(delay)) before attempt \(attempt)", on: descriptor)
                    case .degraded(let interval):
                        send("STATUS=degraded: probing every \(Units.duration(interval))", on: descriptor)
                    case .recovered:
                        send("STATUS=listening on \(address) (recovered)", on: descriptor)
                    case .stopped(let reason):
                        send("STATUS=stopped: \(reason)", on: descriptor)
                    case .starting, .failed, .stopTimedOut, .waitingForBudget:
                        break
                    }
                }
            }
            if let watchdogInterval {
                group.addTask {
                    while true {
                        send("WATCHDOG=1", on: descriptor)
                        do { try await Task.sleep(for: watchdogInterval) } catch { return }
                    }
                }
            }
            try? await gracefulShutdown()
            send("STOPPING=1", on: descriptor)
            group.cancelAll()
        }
    }

    /// One datagram to the notification socket; a failure is ignored, as sd_notify's callers do.
    private func send(_ message: String, on socket: Int32) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        // "@name": the abstract namespace, whose address starts with a NUL byte.
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { sendto(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), target, length) }
            }
        }
    }
}
