import Foundation

/// The CPU time of each thread of this process, read from `/proc/self/task/*/stat`: what a test checks when it
/// wants the cost of some threads (libsrt's, the adapter's) rather than the whole process's, which in a full run
/// includes every other suite.
///
/// ```swift
/// let before = ThreadCPU.snapshot()
/// try await Task.sleep(for: .seconds(1))
/// let busy = ThreadCPU.snapshot().seconds(since: before, threadsNamed: ThreadCPU.isSRTThread)
/// ```
struct ThreadCPU {
    /// User plus system clock ticks, and the name, of each thread by id.
    let threads: [Int: (name: String, ticks: Int)]

    /// libsrt's threads (`SRT:RcvQ:w1`, `SRT:SndQ:w1`, `SRT:GC`, …) and the adapter's (`srt-reactor`, `srt-control`,
    /// `srt-access`).
    static func isSRTThread(_ name: String) -> Bool {
        name.hasPrefix("SRT:") || name.hasPrefix("srt-")
    }

    static func snapshot() -> ThreadCPU {
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var threads: [Int: (name: String, ticks: Int)] = [:]
        for tid in tids.compactMap({ Int($0) }) {
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { continue }
            // The name may hold spaces and parentheses: the fields after the last ')' start with the state (field 3);
            // utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            threads[tid] = (String(stat[stat.index(after: open)..<close]), user + system)
        }
        return ThreadCPU(threads: threads)
    }

    /// The CPU seconds spent since `earlier` by the threads whose name passes `include` (a thread that began since
    /// counts whole; one that ended since is not seen).
    func seconds(since earlier: ThreadCPU, threadsNamed include: (String) -> Bool) -> Double {
        let ticks = threads.reduce(0) { sum, entry in
            guard include(entry.value.name) else { return sum }
            return sum + entry.value.ticks - (earlier.threads[entry.key]?.ticks ?? 0)
        }
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
