import Foundation
import SRTTestSupport
import Synchronization

/// A child process (srt-relay or srt-live-transmit) killed by its pid when the test ends, passed or not; its
/// standard output is collected line by line on a thread of its own, with the instant each line was read, its
/// standard error as a whole.
///
/// Started with `posix_spawn` and an empty signal mask: Foundation's `Process` hands down the mask of the
/// spawning thread, where SIGINT and SIGTERM are blocked, and srt-live-transmit's handlers then never run. The child
/// gets its standard streams and no other descriptor of the test process.
final class TestProcess: Sendable {
    let pid: pid_t
    /// The write end of the child's standard input; ``closeInput()`` closes it.
    let input: Int32
    private let output = Locked<Output>(Output())
    private let errors = Locked<[UInt8]>([])
    private let status = Locked<Int32?>(nil)
    /// When the wait thread saw the exit: timings taken here do not include the test's own scheduling delays.
    private let exitInstant = Locked<ContinuousClock.Instant?>(nil)
    private let exited = DispatchSemaphore(value: 0)
    private let drained = Locked(false)
    private let inputClosed = Atomic(false)

    /// The read ends of standard output and error when nobody reads them (`readsOutput: false`).
    private let unread: [Int32]
    private let unreadClosed = Locked(false)

    /// Starts `executable`, in `namespace` when one is given. With `readsOutput: false` its standard output and
    /// error are pipes that are full before it starts and never read: every write there blocks (``lines`` stays
    /// empty).
    init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], readsOutput: Bool = true,
        namespace: NetworkNamespace? = nil
    ) throws {
        let (executable, arguments) = namespace?.command(executable, arguments) ?? (executable, arguments)
        var stdin: [Int32] = [0, 0]
        var stdout: [Int32] = [0, 0]
        var stderr: [Int32] = [0, 0]
        guard pipe(&stdin) == 0, pipe(&stdout) == 0, pipe(&stderr) == 0 else { throw POSIXError(.EMFILE) }
        // Not inherited by other children (the dup2 of the file actions clears the flag on 0, 1 and 2).
        for descriptor in stdin + stdout + stderr { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        if !readsOutput {
            Self.fill(stdout[1])
            Self.fill(stderr[1])
        }
        unread = readsOutput ? [] : [stdout[0], stderr[0]]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdout[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderr[1], 2)
        // Nothing else of the test process: swift-nio's and libsrt's sockets are not close-on-exec, and a child
        // that held one would keep its port bound and its connections open for as long as it runs.
        Self.closeFrom(3, in: &actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGUSR1, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        var child: pid_t = 0
        let result = Self.withCStrings([executable] + arguments) { argv in
            Self.withCStrings(environment) { envp in posix_spawn(&child, executable, &actions, &attributes, argv, envp)
            }
        }
        close(stdin[0])
        close(stdout[1])
        close(stderr[1])
        guard result == 0 else {
            close(stdin[1])
            close(stdout[0])
            close(stderr[0])
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .ENOENT)
        }
        pid = child
        input = stdin[1]
        let (outputReader, errorReader, spawned) = (stdout[0], stderr[0], child)
        let (output, errors, status, exited, drained) = (self.output, self.errors, self.status, exited, self.drained)
        let exitInstant = self.exitInstant
        // Blocking reads and the wait get threads of their own: off the Swift concurrency pool, and not Dispatch's
        // width-limited pool, which many children at once (the parameterized tests) would exhaust.
        if readsOutput { Self.startReaders(output: outputReader, errors: errorReader, into: (output, errors, drained)) }
        Thread.detachNewThread {
            var raw: Int32 = 0
            while waitpid(spawned, &raw, 0) < 0 && errno == EINTR {}
            // Exit status, or 128 + the signal that ended it (as a shell says).
            let code = raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
            exitInstant.state.withLock { $0 = .now }
            status.state.withLock { $0 = code }
            exited.signal()
        }
    }

    /// Reads standard output line by line and standard error as a whole, each on a thread of its own.
    private static func startReaders(
        output outputReader: Int32, errors errorReader: Int32,
        into sinks: (Locked<Output>, Locked<[UInt8]>, Locked<Bool>)
    ) {
        let (output, errors, drained) = sinks
        Thread.detachNewThread {
            Self.drain(outputReader) { data in
                let read = ContinuousClock.now
                output.state.withLock { state in
                    state.partial += data
                    while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                        state.lines.append(String(decoding: state.partial[..<newline], as: UTF8.self))
                        state.arrivals.append(read)
                        state.partial.removeSubrange(...newline)
                    }
                }
            }
        }
        Thread.detachNewThread {
            Self.drain(errorReader) { data in errors.state.withLock { $0 += data } }
            drained.state.withLock { $0 = true }
        }
    }

    /// Fills the pipe whose write end is `descriptor` to the last byte, so that the next write blocks.
    static func fill(_ descriptor: Int32) {
        let flags = fcntl(descriptor, F_GETFL)
        // Non-blocking only while filling: the child inherits the blocking descriptor.
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(descriptor, F_SETFL, flags) }
        let page = [UInt8](repeating: UInt8(ascii: "#"), count: 4096)
        var size = page.count
        // Whole pages while they fit, then single bytes; a pipe holds 1 MiB at most by default (bounded).
        for _ in 0..<(1 << 21) {
            if Foundation.write(descriptor, page, size) > 0 { continue }
            guard errno == EAGAIN, size > 1 else { return }
            size = 1
        }
    }

    /// Closes the read ends of standard output and error that nobody read (`readsOutput: false`): the child's next
    /// write there fails with EPIPE (and SIGPIPE, unless it ignores it).
    func closeUnreadOutput() {
        unreadClosed.state.withLock { closed in
            if !closed { for descriptor in unread { close(descriptor) } }
            closed = true
        }
    }

    /// Every complete line printed so far.
    var lines: [String] { output.state.withLock { $0.lines } }

    /// When line `index` of ``lines`` was read from the pipe.
    func arrival(ofLine index: Int) -> ContinuousClock.Instant? {
        output.state.withLock { $0.arrivals.indices.contains(index) ? $0.arrivals[index] : nil }
    }

    /// When the child's exit was seen; `nil` while it runs.
    var exitedAt: ContinuousClock.Instant? { exitInstant.state.withLock { $0 } }

    /// Standard error so far.
    var standardError: String { String(decoding: errors.state.withLock { $0 }, as: UTF8.self) }

    /// Standard error once the child closed it (it exited), waiting at most 2 s for the reader; polls, so that no
    /// thread of the concurrency pool blocks.
    func standardErrorAtExit() async -> String {
        let deadline = ContinuousClock.now + .seconds(2)
        while !drained.state.withLock({ $0 }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return standardError
    }

    /// Writes all of `bytes` to the child's standard input; `false` when the child is gone.
    @discardableResult
    func write(_ bytes: ArraySlice<UInt8>) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(input, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    /// Closes the child's standard input (end of file); idempotent.
    func closeInput() {
        if inputClosed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            close(input)
        }
    }

    func signal(_ number: Int32) {
        if status.state.withLock({ $0 }) == nil { kill(pid, number) }
    }

    /// Waits up to `limit` for the exit; returns the status (128 + n after signal n), or `nil` if it still runs.
    /// Polls every 2 ms: no thread of the concurrency pool blocks.
    func exitStatus(within limit: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let code = status.state.withLock({ $0 }) { return code }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return status.state.withLock { $0 }
    }

    /// The blocking form, for cleanup (`deinit`, `defer`) only.
    private func waitForExit(within limit: Duration) -> Int32? {
        let milliseconds = Int(limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        guard exited.wait(timeout: .now() + .milliseconds(milliseconds)) == .success else { return nil }
        exited.signal()
        return status.state.withLock { $0 }
    }

    /// Kills the child by its pid and reaps it; safe to call twice.
    func terminate() {
        closeInput()
        signal(SIGKILL)
        _ = waitForExit(within: .seconds(5))
    }

    deinit {
        terminate()
        closeUnreadOutput()
    }

    private static func drain(_ descriptor: Int32, _ body: ([UInt8]) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            body(Array(buffer[..<count]))
        }
        close(descriptor)
    }

    /// Adds to `actions` the close of every descriptor from `lowest` up: glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later, which Swift's Glibc module does not import), else
    /// a close of each descriptor open now (a close of one closed meanwhile is no error for posix_spawn).
    private static func closeFrom(_ lowest: Int32, in actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom {
            _ = addCloseFrom(&actions, lowest)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ Int32($0) }) where descriptor >= lowest {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }

    private typealias AddCloseFrom =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, looked up in the process (`RTLD_DEFAULT` is null).
    private static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: AddCloseFrom.self)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }
}

/// A value behind a lock that closures on other threads can hold.
final class Locked<Value: Sendable>: Sendable {
    let state: Mutex<Value>

    init(_ value: Value) {
        state = Mutex(value)
    }
}

/// Standard output so far: whole lines with the instant each was read, and the start of the next line.
private struct Output {
    var lines: [String] = []
    var arrivals: [ContinuousClock.Instant] = []
    var partial: [UInt8] = []
}
