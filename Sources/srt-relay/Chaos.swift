import NIOConcurrencyHelpers
import SRTAdapter
import ServiceLifecycle
import Supervisor
import UnixSignals

/// Kills the listener's UDP receive thread (``FaultInjector``) every `period`, and on SIGUSR1 when asked, while the
/// listener is ready: recovery, live. Prints a line for each injection.
///
/// Only into a listener that has been ready for ``settleTime`` (it waits for that much when the listener has just
/// come up). In principle a death in the instant between `start()` and the listener's subscription to death signals
/// is seen by the periodic probe only, seconds later; 6,574 injections every 110 ms without this wait never hit that
/// window (the slowest recovery was 246 ms), so this is a margin, not a fix.
struct Chaos: Service {
    let server: SRTServer
    let console: Console
    let period: Duration?
    let onSignal: Bool
    /// When the listener last became ready, `nil` while it is not.
    private let readySince = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    private let events: AsyncStream<SupervisorEvent>
    static let settleTime = Duration.milliseconds(100)

    init(server: SRTServer, console: Console, period: Duration?, onSignal: Bool) {
        self.server = server
        self.console = console
        self.period = period
        self.onSignal = onSignal
        self.events = server.supervisor.events()
    }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    readySince.withLockedValue { since in
                        if case .ready = event { since = .now } else { since = nil }
                    }
                }
            }
            if let period {
                group.addTask {
                    while true {
                        do { try await Task.sleep(for: period) } catch { return }
                        await inject(because: "every \(Units.duration(period))")
                    }
                }
            }
            if onSignal {
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigusr1) { await inject(because: "SIGUSR1") }
                }
            }
            // Ends with a graceful shutdown or cancellation: no fault during the shutdown.
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func inject(because trigger: String) async {
        // Just up: wait until it has settled (and is still up).
        if let since = readySince.withLockedValue({ $0 }), since.duration(to: .now) < Self.settleTime {
            try? await Task.sleep(for: Self.settleTime - since.duration(to: .now))
        }
        let since = readySince.withLockedValue { $0 }
        guard let since, since.duration(to: .now) >= Self.settleTime, let port = server.localAddress?.port else {
            console.emit(
                "chaos-skipped", "chaos: the listener is not up; nothing injected", ["trigger": .string(trigger)])
            return
        }
        let descriptors = FaultInjector.killReceiveThread(port: port)
        guard !descriptors.isEmpty else {
            console.emit(
                "chaos-skipped", "chaos: no UDP socket on port \(port) (a restart in progress); nothing injected",
                ["trigger": .string(trigger)])
            return
        }
        console.emit(
            "chaos",
            "chaos (\(trigger)): /dev/null over the UDP socket of port \(port) (fd \(descriptors.map(String.init).joined(separator: ", ")))",
            ["trigger": .string(trigger), "port": .int(Int64(port)), "descriptors": .int(Int64(descriptors.count))])
    }
}
