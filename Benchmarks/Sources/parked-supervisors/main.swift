// 100,000 supervisors parked in a one-hour backoff, measured outside the benchmark harness (whose malloc interposer
// adds a header to every allocation): resident memory while parked, then wake() of all until every one has started
// its next attempt. Usage: swift run -c release parked-supervisors [count] [--bare | --service-group [--cancel-only]]
//
// `--bare` parks plain tasks on a continuation instead, with no supervisor: the floor that the Swift runtime sets for
// any parked task (its object and its first task-allocator slab), which no supervisor can go below.
import Glibc
import Logging
@_spi(TestKit) import ServiceLifecycle  // the task-local graceful-shutdown manager, for --service-group
import Supervisor
import Synchronization

struct Refused: Error {}

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 100_000
let restarted = Atomic(0)
let allRestarted = Mutex<CheckedContinuation<Void, Never>?>(nil)

/// Whether starts succeed: not until the measurement wakes everyone, so every supervisor's first start fails and
/// it parks in its one-hour backoff.
let startsSucceed = Atomic(false)

/// `--cancel-only`: the resource cannot end a run from outside, so that under a shutdown manager each start runs it
/// in a child task that a graceful shutdown cancels (the default for resources); without it, it ends a run as a
/// socket's close would (`endRun`), as SRTListener does.
let endable = !CommandLine.arguments.contains("--cancel-only")

/// Refuses to start until `startsSucceed`; the last of the starts after that resumes the measuring task. A value
/// with nothing in it, as a resource described by a port number would be (8 bytes): the supervisor keeps it inline.
/// Its instance is an object, as a socket is. `run` waits for cancellation (or `endRun`) on a continuation, as a
/// socket's receive loop waits on its reactor: with `Task.sleep`, the dispatch timer that each call creates would
/// dominate the wake-up figure, and it is not the supervisor's.
struct RefusedUntilWoken: Restartable {
    func start() async throws -> RunningInstance {
        guard startsSucceed.load(ordering: .acquiring) else { throw Refused() }
        if restarted.add(1, ordering: .relaxed).newValue == count { allRestarted.withLock { $0.take() }?.resume() }
        return RunningInstance()
    }

    func run(_ running: RunningInstance) async throws {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { running.park($0) }
        } onCancel: {
            running.cancel()
        }
        throw CancellationError()
    }

    func stop(_ running: RunningInstance) async {}

    var endsRunOnRequest: Bool { endable }

    func endRun(_ running: RunningInstance) { running.cancel() }
}

/// One running instance's wait for cancellation.
final class RunningInstance: Sendable {
    private struct State {
        var cancelled = false
        var parked: UnsafeContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func park(_ continuation: UnsafeContinuation<Void, Never>) {
        let cancelled = state.withLock { state in
            if !state.cancelled { state.parked = continuation }
            return state.cancelled
        }
        if cancelled { continuation.resume() }
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            defer { state.parked = nil }
            return state.parked
        }?.resume()
    }
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
/// `--service-group`: run every supervisor where a graceful shutdown can reach it, as a `ServiceGroup` does (its
/// task-local shutdown manager); each then runs its resource in a child task that a graceful shutdown can cancel.
let underServiceGroup = CommandLine.arguments.contains("--service-group")
/// `PARK_PAUSE=1`: two seconds of quiet before and after the wake-up, to attach `perf record -p` to it alone.
let pause = getenv("PARK_PAUSE") != nil
let base = residentBytes()
let supervisors = (0..<count).map { _ in
    ResourceSupervisor(RefusedUntilWoken(), name: "parked", policy: policy, logger: quiet)
}
let created = residentBytes()
await withTaskGroup(of: Void.self) { group in
    let manager = underServiceGroup ? GracefulShutdownManager() : nil
    TaskLocals.$gracefulShutdownManager.withValue(manager) {
        for supervisor in supervisors { group.addTask { try? await supervisor.run() } }
    }
    while supervisors.contains(where: { if case .backingOff = $0.state { false } else { true } }) {
        try? await Task.sleep(for: .milliseconds(20))
    }
    let parked = residentBytes()
    print(
        "\(count) supervisors\(underServiceGroup ? " under a graceful-shutdown manager" : ""): "
            + "\((created - base) / count) B each as objects, \((parked - base) / count) B each parked"
    )
    print("resident while parked: \(parked / 1_048_576) MiB")
    if pause {
        print("pid \(getpid())")
        try? await Task.sleep(for: .seconds(2))
    }
    let clock = ContinuousClock()
    let cpuBefore = cpuTime()
    let start = clock.now
    await withCheckedContinuation { continuation in
        allRestarted.withLock { $0 = continuation }
        startsSucceed.store(true, ordering: .releasing)
        for supervisor in supervisors { supervisor.wake(spread: .zero) }
    }
    let took = clock.now - start
    print("wake() of all → all started again: \(took) (CPU: \(cpuTime() - cpuBefore) on both cores)")
    try? await Task.sleep(for: .milliseconds(500))
    print("resident once all run again: \(residentBytes() / 1_048_576) MiB")
    if pause { try? await Task.sleep(for: .seconds(2)) }
    group.cancelAll()
}
