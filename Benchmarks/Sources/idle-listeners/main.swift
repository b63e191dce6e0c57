// What keeping idle listeners watched costs: N `SRTServer`s on loopback with nothing connected, the process's CPU
// over a measured window, once with the standard health check (a quick check every 250 ms) and once with the quick
// check every 10 minutes (the periodic self-probe every 5 s stays in both), in one run, alternating.
// Usage: idle-listeners [LISTENERS] [SECONDS] [ROUNDS]   (100, 20, 3; see Docs/benchmarks.md)
import Glibc
import SRTAdapter
import Supervisor

let arguments = CommandLine.arguments.dropFirst().map { Int($0) }
let listeners = arguments.first.flatMap { $0 } ?? 100
let seconds = arguments.dropFirst().first.flatMap { $0 } ?? 20
let rounds = arguments.dropFirst(2).first.flatMap { $0 } ?? 3

/// The whole process's user + system CPU so far, in seconds.
func processCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The first 4 KiB of a file (a /proc entry), without Foundation.
func readSmallFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 4_096)
    let count = read(descriptor, &buffer, buffer.count)
    return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : nil
}

/// The CPU seconds so far of the process's threads outside libsrt (the Swift pool, the adapter's reactor and control
/// threads, the main thread): where the quick check runs, apart from libsrt's own threads' periodic wake-ups.
func adapterCPU() -> Double {
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    var total = 0.0
    guard let tasks = opendir("/proc/self/task") else { return 0 }
    defer { closedir(tasks) }
    while let entry = readdir(tasks) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard Int(name) != nil, let stat = readSmallFile("/proc/self/task/\(name)/stat") else { continue }
        // "tid (comm) state ..." : the name may hold spaces, so split after its closing parenthesis.
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
        if stat[stat.index(after: open)..<close].hasPrefix("SRT:") { continue }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
        total += (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks
    }
    return total
}

/// Runs `listeners` servers with `health`, lets them settle, and returns the CPU per second over `seconds`.
func measure(_ health: SRTHealthCheck) async throws -> (process: Double, adapter: Double) {
    let servers = try (0..<listeners).map { index in
        SRTServer(
            configuration: try SRTListenerConfiguration(host: "127.0.0.1", port: 0), name: "idle-\(index)",
            health: health)
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for server in servers { group.addTask { try await server.run() } }
        // Settled: every one listening, and a probe round behind them.
        while servers.contains(where: { !$0.supervisor.state.isReady }) { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .seconds(6))
        let (start, adapterStart) = (processCPU(), adapterCPU())
        try await Task.sleep(for: .seconds(seconds))
        let perSecond = (processCPU() - start) / Double(seconds)
        let adapterPerSecond = (adapterCPU() - adapterStart) / Double(seconds)
        group.cancelAll()
        return (perSecond, adapterPerSecond)
    }
}

func percent(_ fraction: Double) -> String {
    let hundredths = (fraction * 10_000).rounded()
    return "\(hundredths / 100)"
}

let standard = SRTHealthCheck.standard
let rare = try SRTHealthCheck(quickCheckInterval: .seconds(600))
var withQuick: [(process: Double, adapter: Double)] = []
var withoutQuick: [(process: Double, adapter: Double)] = []
for round in 0..<rounds {
    // Alternating order, so that a drift of the machine's load falls on both.
    for quick in round % 2 == 0 ? [true, false] : [false, true] {
        let cpu = try await measure(quick ? standard : rare)
        if quick { withQuick.append(cpu) } else { withoutQuick.append(cpu) }
        print(
            "round \(round + 1), quick check \(quick ? "every 250 ms" : "off"): \(percent(cpu.process)) % of one core, "
                + "\(percent(cpu.adapter)) % outside libsrt's threads")
    }
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
let (on, off) = (median(withQuick.map(\.process)), median(withoutQuick.map(\.process)))
let (adapterOn, adapterOff) = (median(withQuick.map(\.adapter)), median(withoutQuick.map(\.adapter)))
print(
    "\(listeners) idle listeners, medians of \(rounds), % of one core: whole process \(percent(on)) with the quick "
        + "check, \(percent(off)) without; outside libsrt's threads \(percent(adapterOn)) with, \(percent(adapterOff)) "
        + "without: the quick check adds \(percent(adapterOn - adapterOff))")
SRTRuntime.exit(0)
