import Glibc

/// This process's threads, resident memory and CPU time at one instant, read from /proc and `getrusage`.
struct ProcessFigures: CustomStringConvertible {
    /// Entries in /proc/self/task.
    let threads: Int
    /// How many threads carry each name (/proc/self/task/*/comm), so a changed count says which kind changed.
    let threadNames: [String: Int]
    /// VmRSS, in KiB.
    let residentKiB: Int
    /// User plus system time of every thread, in seconds.
    let cpuSeconds: Double
    /// Voluntary plus involuntary context switches of every thread so far.
    let contextSwitches: Int

    static func now() -> ProcessFigures {
        var names: [String: Int] = [:]
        for task in directoryEntries("/proc/self/task") {
            let name = readFile("/proc/self/task/\(task)/comm").trimmingTrailingNewline()
            // Names with spaces would break the key=value lines the script reads.
            names[name.replacingSpaces(), default: 0] += 1
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return ProcessFigures(
            threads: names.values.reduce(0, +), threadNames: names, residentKiB: residentKiB(), cpuSeconds: cpu,
            contextSwitches: usage.ru_nvcsw + usage.ru_nivcsw)
    }

    /// Threads other than libsrt's per-connection ones: libsrt 1.5.1 starts one "SRT:TsbPd" thread for every socket
    /// that receives in live mode (timestamp-based delivery), whoever owns the socket.
    var threadsBesidesTSBPD: Int {
        threads - (threadNames[Self.tsbpdThreadName] ?? 0)
    }

    static let tsbpdThreadName = "SRT:TsbPd"

    /// Whose a thread is, by its name.
    enum Kind: String, CaseIterable {
        /// The adapter's threads: its reactor ("srt-reactor") and its control thread ("srt-control").
        case adapter
        /// The Swift concurrency pool (Dispatch's root-queue threads, "…default-qos…").
        case swiftPool = "swift_pool"
        /// libsrt's per-process and per-UDP-port threads: "SRT:GC", "SRT:RcvQ:wN", "SRT:SndQ:wN". The listener's
        /// port has one pair; the listener's self-probes share a second, bound at the first probe and kept.
        case libsrtPorts = "libsrt_ports"
        /// libsrt's per-connection "SRT:TsbPd" threads (see ``threadsBesidesTSBPD``).
        case tsbpd
        /// The main thread and anything else.
        case other

        init(threadName name: String) {
            if name == "srt-reactor" || name == "srt-control" {
                self = .adapter
            } else if name.contains("qos") {
                self = .swiftPool
            } else if name == ProcessFigures.tsbpdThreadName {
                self = .tsbpd
            } else if name.hasPrefix("SRT:") {
                self = .libsrtPorts
            } else {
                self = .other
            }
        }
    }

    /// Threads of `kind`.
    func threads(of kind: Kind) -> Int {
        threadNames.filter { Kind(threadName: $0.key) == kind }.values.reduce(0, +)
    }

    /// "adapter:1,swift_pool:2,..." in ``Kind`` order.
    var kindsText: String {
        Kind.allCases.map { "\($0.rawValue):\(threads(of: $0))" }.joined(separator: ",")
    }

    /// "name:count,..." in name order.
    var namesText: String {
        threadNames.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
    }

    var description: String {
        "threads=\(threads) threads_besides_tsbpd=\(threadsBesidesTSBPD) rss_kib=\(residentKiB) cpu_s=\(cpuSeconds) kinds=\(kindsText) thread_names=\(namesText)"
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock the C programs of the run read too.
    static func monotonicNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    private static func residentKiB() -> Int {
        for line in readFile("/proc/self/status").split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        }
        return -1
    }

    private static func directoryEntries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var entries: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { entries.append(name) }
        }
        return entries
    }

    private static func readFile(_ path: String) -> String {
        guard let file = fopen(path, "r") else { return "" }
        defer { fclose(file) }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            text += buffer[0..<count]
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingTrailingNewline() -> String {
        hasSuffix("\n") ? String(dropLast()) : self
    }

    fileprivate func replacingSpaces() -> String {
        String(map { $0 == " " ? "_" : $0 })
    }
}
