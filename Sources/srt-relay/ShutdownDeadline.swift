import Dispatch
import SRTAdapter
import ServiceLifecycle

/// Starts a deadline when the shutdown begins: if the process is still there after `limit`, it says so and
/// leaves at once with 70 (EX_SOFTWARE) — a bug to fix, but never a hang. Placed last, it hears the shutdown first.
struct ShutdownDeadline: Service {
    let limit: Duration
    let console: Console

    func run() async {
        // Returns on graceful shutdown, and throws on cancellation (the group failed): either way, the end began.
        try? await gracefulShutdown()
        let console = self.console
        DispatchQueue.global().asyncAfter(deadline: .now() + Units.seconds(limit)) {
            console.emit(
                "exit", "srt-relay: the shutdown took longer than \(Units.duration(limit)); leaving now",
                ["status": .int(70)])
            _ = console.output.waitUntilWrittenBlocking(within: RelayServiceGroup.outputFlushLimit)
            SRTRuntime.exit(70)
        }
    }
}
