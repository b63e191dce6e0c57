import SRTAdapter
import ServiceLifecycle
import Supervisor
import UnixSignals

/// Injects fault B (``FaultInjector``) every `period`, and on SIGUSR1 when asked, while the listener is ready:
/// recovery, live. Prints a line for each injection.
struct Chaos: Service {
    let server: SRTServer
    let console: Console
    let period: Duration?
    let onSignal: Bool

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            if let period {
                group.addTask {
                    while true {
                        do { try await Task.sleep(for: period) } catch { return }
                        inject(because: "every \(Units.duration(period))")
                    }
                }
            }
            if onSignal {
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigusr1) { inject(because: "SIGUSR1") }
                }
            }
            // Ends with a graceful shutdown or cancellation: no fault during the shutdown.
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func inject(because trigger: String) {
        guard server.supervisor.state.isReady, let port = server.localAddress?.port else {
            console.emit(
                "chaos-skipped", "chaos: the listener is not up; nothing injected", ["trigger": .string(trigger)])
            return
        }
        let descriptors = FaultInjector.killReceiveThread(port: port)
        console.emit(
            "chaos",
            "chaos (\(trigger)): /dev/null over the UDP socket of port \(port) (fd \(descriptors.map(String.init).joined(separator: ", ")))",
            ["trigger": .string(trigger), "port": .int(Int64(port)), "descriptors": .int(Int64(descriptors.count))])
    }
}
