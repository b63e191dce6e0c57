// 100,000 supervisors parked in a one-hour backoff, measured outside the benchmark harness (whose malloc interposer
// adds a header to every allocation): resident memory while parked, then wake() of all until every one has started
// its next attempt. Usage: swift run -c release parked-supervisors [count] [--bare]
//
// `--bare` parks plain tasks on a continuation instead, with no supervisor: the floor that the Swift runtime sets for
// any parked task (its object and its first task-allocator slab), which no supervisor can go below.
import Glibc
import Logging
import Supervisor
import Synchronization

struct Refused: Error {}

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 100_000
let restarted = Atomic(0)
let allRestarted = Mutex<CheckedContinuation<Void, Never>?>(nil)

/// Fails its first start; every later start succeeds, and the last of them resumes the measuring task. `run`
/// waits for cancellation on a continuation, as a socket's receive loop waits on its reactor: with `Task.sleep`,
/// the dispatch timer that each call creates would dominate the wake-up figure, and it is not the supervisor's.
final class FailOnce: Restartable, Sendable {
    private struct State {
        var failed = false
        var cancelled = false
        var running: UnsafeContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func start() async throws -> Int {
        if !state.withLock({
            $0.failed
                ? true
                : {
                    $0.failed = true
                    return false
                }(&$0)
        }) {
            throw Refused()
        }
        if restarted.add(1, ordering: .relaxed).newValue == count { allRestarted.withLock { $0.take() }?.resume() }
        return 0
    }

    func run(_ instance: Int) async throws {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let cancelled = state.withLock { state in
                    if !state.cancelled { state.running = continuation }
                    return state.cancelled
                }
                if cancelled { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state in
                state.cancelled = true
                defer { state.running = nil }
                return state.running
            }?.resume()
        }
        throw CancellationError()
    }

    func stop(_ instance: Int) async {}
}

/// Resident memory from /proc/self/statm, read without Foundation (whose own footprint would blur the figure).
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

/// User and system CPU time of the whole process so far.
func cpuTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func duration(_ time: timeval) -> Duration { .seconds(time.tv_sec) + .microseconds(time.tv_usec) }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}

let parkedTasks = Atomic(0)
let waiters = Mutex<[UnsafeContinuation<Void, Never>]>([])
if CommandLine.arguments.contains("--bare") {
    let base = residentBytes()
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<count {
            group.addTask {
                await withUnsafeContinuation { continuation in
                    waiters.withLock { $0.append(continuation) }
                    parkedTasks.add(1, ordering: .relaxed)
                }
            }
        }
        while parkedTasks.load(ordering: .relaxed) < count { try? await Task.sleep(for: .milliseconds(20)) }
        let parked = residentBytes()
        print("\(count) bare tasks: \((parked - base) / count) B each parked; resident \(parked / 1_048_576) MiB")
        for waiter in waiters.withLock({ $0 }) { waiter.resume() }
    }
    exit(0)
}

let quiet = Logger(label: "parked", factory: { _ in SwiftLogNoOpLogHandler() })
let policy = try RestartPolicy(backoff: .constant(.seconds(3_600)))
let base = residentBytes()
let supervisors = (0..<count).map { _ in ResourceSupervisor(FailOnce(), name: "parked", policy: policy, logger: quiet) }
let created = residentBytes()
await withTaskGroup(of: Void.self) { group in
    for supervisor in supervisors { group.addTask { try? await supervisor.run() } }
    while supervisors.contains(where: { if case .backingOff = $0.state { false } else { true } }) {
        try? await Task.sleep(for: .milliseconds(20))
    }
    let parked = residentBytes()
    print(
        "\(count) supervisors: \((created - base) / count) B each as objects, \((parked - base) / count) B each parked")
    print("resident while parked: \(parked / 1_048_576) MiB")
    let clock = ContinuousClock()
    let cpuBefore = cpuTime()
    let start = clock.now
    await withCheckedContinuation { continuation in
        allRestarted.withLock { $0 = continuation }
        for supervisor in supervisors { supervisor.wake() }
    }
    let took = clock.now - start
    print("wake() of all → all started again: \(took) (CPU: \(cpuTime() - cpuBefore) on both cores)")
    group.cancelAll()
}
