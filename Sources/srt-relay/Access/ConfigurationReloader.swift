import ServiceLifecycle
import UnixSignals

/// Reloads `--config` on SIGHUP: a valid file is put in force for every handshake from then on, without touching a
/// connection; a file with an error is refused whole, with a line saying why, and the previous one stays.
///
/// ```sh
/// kill -HUP $(pidof srt-relay)   # "configuration reloaded from streams.json: 3 streams"
/// ```
struct ConfigurationReloader: Service {
    let live: LiveConfiguration
    let console: Console

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) { reload() }
            }
            // Ends with a graceful shutdown or cancellation.
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    func reload() {
        do {
            let configuration = try live.reload()
            let count = configuration.streams.count
            console.emit(
                "configuration-reloaded",
                "configuration reloaded from \(live.path): \(count) stream\(count == 1 ? "" : "s")",
                ["path": .string(live.path), "streams": .int(Int64(count))])
        } catch {
            console.emit(
                "configuration-refused", "! configuration not reloaded, the previous one stays: \(error)",
                ["path": .string(live.path), "error": .string("\(error)")])
        }
    }
}
