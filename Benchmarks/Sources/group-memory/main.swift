// 10,000 children of one SupervisorGroup parked in a one-hour backoff, against 10,000 lone ResourceSupervisors
// parked the same way: resident memory per child and per lone supervisor, and their ratio.
// Usage: swift run -c release group-memory [count]
//
// Each side runs in a fresh child process of this executable (`--phase lone|group|lone-burst count`): in one process
// the second phase would reuse the heap pages and task-allocator slabs that the first one freed, and look cheaper
// than it is. Resident memory is read after `malloc_trim`, without Foundation (whose own footprint would blur the
// figure) and outside the benchmark harness (whose malloc interposer adds a header to every allocation).
//
// The lone supervisors start one at a time, each once the one before it started, as a group starts its children:
// started all at once (`lone-burst`, printed as well), 10,000 runs in flight together leave freed memory between
// the live objects that stays resident, which is the burst's cost, not a supervisor's.
//
// Both sides park through a run that fails: each start returns at once and each run throws, so every supervisor
// waits out its one-hour backoff. Not a first start that fails, as in parked-supervisors: a group starts its
// children in order, each once the one before it is ready, and a child whose start failed is not ready until its
// backoff is over, so only the first child would ever start.
import Glibc
import Logging
import Supervisor
import Synchronization

struct Refused: Error {}

/// How many runs have failed so far: once every one has, every supervisor is on its way into its backoff.
let failedRuns = Atomic(0)

/// Who waits for the next start to return: the lone supervisors start one at a time, as a group starts its children.
let startReturned = Mutex<UnsafeContinuation<Void, Never>?>(nil)

/// Starts at once and fails its run at once. A value with nothing in it, as a resource described by a port number
/// would be: the supervisor keeps it inline.
struct FailsWhenRun: Restartable {
    func start() async throws -> Int {
        startReturned.withLock { $0.take() }?.resume()
        return 0
    }

    func run(_ instance: Int) async throws {
        failedRuns.add(1, ordering: .relaxed)
        throw Refused()
    }

    func stop(_ instance: Int) async {}
}

/// Resident memory from /proc/self/statm, read without Foundation.
func residentBytes() -> Int {
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return 0 }
    let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
    guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Gives back to the kernel the pages that malloc holds free: what the run left behind on its way to the backoff
/// (more of it when more supervisors are on that way at once) is not what a parked supervisor costs.
func trimmedResidentBytes() -> Int {
    // glibc's `malloc_trim`, which the Glibc module does not import.
    typealias Trim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
    return residentBytes()
}

/// This executable's path, to run each phase in a child process of its own.
func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs `--phase phase count` in a child process, echoes its output and returns its bytes per supervisor.
func runPhase(_ phase: String, count: Int) -> Int? {
    guard let pipe = popen("'\(executablePath())' --phase \(phase) \(count)", "r") else { return nil }
    var perSupervisor: Int?
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), pipe) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("per-supervisor ") {
            perSupervisor = Int(text.dropFirst("per-supervisor ".count).filter { !$0.isNewline })
        } else {
            print(text, terminator: "")
        }
    }
    let status = pclose(pipe)
    return status == 0 ? perSupervisor : nil
}

/// Waits until every run has failed, then a second more for every supervisor to reach its backoff's sleep.
func waitUntilParked(_ count: Int, also ready: () -> Bool = { true }) async {
    let deadline = ContinuousClock.now + .seconds(120)
    while failedRuns.load(ordering: .relaxed) < count || !ready(), ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(20))
    }
    try? await Task.sleep(for: .seconds(1))
}

let arguments = Array(CommandLine.arguments.dropFirst())
let quiet = Logger(label: "parked", factory: { _ in SwiftLogNoOpLogHandler() })
let policy = try RestartPolicy(backoff: .constant(.seconds(3_600)))

if arguments.first == "--phase", arguments.count == 3, let count = Int(arguments[2]) {
    let base = trimmedResidentBytes()
    var parked = 0
    var created = 0
    var allParked = false
    switch arguments[1] {
    case "lone", "lone-burst":
        // Named as the group names its children's supervisors, so that both keep the same strings.
        let supervisors = (0..<count).map { index in
            ResourceSupervisor(FailsWhenRun(), name: "streams/stream-\(index)", policy: policy, logger: quiet)
        }
        created = trimmedResidentBytes()
        await withTaskGroup(of: Void.self) { group in
            for supervisor in supervisors {
                guard arguments[1] == "lone" else {
                    group.addTask { try? await supervisor.run() }
                    continue
                }
                // Each once the one before it started, as a group starts its children.
                await withUnsafeContinuation { started in
                    startReturned.withLock { $0 = started }
                    group.addTask { try? await supervisor.run() }
                }
            }
            await waitUntilParked(count)
            parked = trimmedResidentBytes()
            allParked = supervisors.allSatisfy { if case .backingOff = $0.state { true } else { false } }
            group.cancelAll()
        }
    case "group":
        // The children's descriptions made in the call: the group keeps them, the caller does not.
        let group = try SupervisorGroup(
            name: "streams", strategy: .oneForOne, intensity: nil, maxChildren: count,
            children: (0..<count).map { index in
                try GroupChild.resource(FailsWhenRun(), name: "stream-\(index)", policy: policy)
            },
            logger: quiet)
        created = trimmedResidentBytes()
        let running = Task { try? await group.run() }
        await waitUntilParked(count) { group.state.isReady }
        parked = trimmedResidentBytes()
        // Checked after the measurement: a snapshot of every child allocates.
        allParked = group.snapshot().children.allSatisfy { child in
            guard child.status == .restarting, case .resource(.backingOff) = child.detail else { return false }
            return true
        }
        running.cancel()
    default:
        exit(2)
    }
    // `GROUP_MEMORY_PAUSE=1`: three seconds parked after the measurement, to look at the process meanwhile.
    if getenv("GROUP_MEMORY_PAUSE") != nil {
        print("pid \(getpid())")
        fflush(nil)
        sleep(3)
    }
    let each = (parked - base) / count
    let what =
        switch arguments[1] {
        case "lone": "lone supervisors started one at a time"
        case "lone-burst": "lone supervisors started all at once"
        default: "children of one group"
        }
    print("\(count) \(what): \(each) B each parked (\((created - base) / count) B before running)")
    print("  resident while parked: \(parked / 1_048_576) MiB\(allParked ? "" : " (NOT every one parked)")")
    print("per-supervisor \(each)")
    exit(allParked ? 0 : 1)
}

let count = Int(arguments.first ?? "") ?? 10_000
guard let lone = runPhase("lone", count: count), let child = runPhase("group", count: count),
    let burst = runPhase("lone-burst", count: count)
else {
    print("a phase failed")
    exit(1)
}
let ratio = Double(child) / Double(lone)
print("per child / per lone supervisor: \((ratio * 1_000).rounded() / 1_000)x (\(child - lone) B more per child)")
let burstRatio = Double(child) / Double(burst)
print("  against lone ones started all at once: \((burstRatio * 1_000).rounded() / 1_000)x")
