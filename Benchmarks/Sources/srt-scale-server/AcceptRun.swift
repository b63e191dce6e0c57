import Glibc
import Logging
import SRTAdapter

/// Accept rate, the adapter's side: an `SRTServer` takes `connections` connections from `server.connections` and
/// closes each at once, the same work as `accept_loop.c`; prints the monotonic instants of the first and the last,
/// and the CPU time the whole process spent (libsrt's threads included, as in the C loop).
enum AcceptRun {
    static func run(connections: Int, backlog: Int, deadline: Duration) async throws -> Int32 {
        let server = SRTServer(
            // Every connect comes from 127.0.0.1: the default share of pending handshakes per address (4, against a
            // flood from one host) would reject most of the connector's 32 in flight, which the C loop does not.
            configuration: try SRTListenerConfiguration(
                host: "127.0.0.1", port: 0, backlog: backlog, maxConnections: connections + 64,
                maxPendingPerAddress: max(backlog, 64)),
            name: "srt-accept", logger: ServerLog.logger(label: "srt-accept"))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        guard let port = await ServerReadiness.port(of: server) else {
            print("FAIL the server did not get ready within 10 s")
            return 1
        }
        let before = ProcessFigures.now()
        print("READY port=\(port) threads=\(before.threads) rss_kib=\(before.residentKiB)")
        // Standard output is a file: the script waits for this line.
        fflush(nil)
        let work = Task { () -> (distinct: Int, accepted: Int, first: Int64, last: Int64) in
            var accepted = 0
            // connector.c names each attempt "accept/N": a caller whose handshake answer came late repeats its
            // request, and libsrt makes a second connection of it once the first was closed. Count callers.
            var callers = Set<String>()
            var first: Int64 = 0
            var last: Int64 = 0
            for await connection in server.connections {
                last = ProcessFigures.monotonicNanoseconds()
                if accepted == 0 { first = last }
                accepted += 1
                callers.insert(connection.streamID)
                connection.close()
                if callers.count == connections { break }
            }
            return (callers.count, accepted, first, last)
        }
        // The bound: a cancelled iteration of `connections` ends, and the count so far is reported.
        let watchdog = Task {
            try await Task.sleep(for: deadline)
            work.cancel()
        }
        let (count, accepted, first, last) = await work.value
        watchdog.cancel()
        let after = ProcessFigures.now()
        print(
            "ACCEPTED n=\(count) accepted=\(accepted) first_ns=\(first) last_ns=\(last) cpu_s=\(after.cpuSeconds - before.cpuSeconds) "
                + "switches=\(after.contextSwitches - before.contextSwitches) "
                + "threads=\(after.threads) rss_kib=\(after.residentKiB)")
        return count == connections ? 0 : 1
    }
}
