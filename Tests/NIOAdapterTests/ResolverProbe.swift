import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Watches the test process's `getaddrinfo`, which this file defines in place of the C library's: NIO (linked into
/// the test binary) calls this one. Two made-up names are answered here, without any query leaving the machine:
/// ``probeName`` resolves as 127.0.0.1, noting the caller's thread: whether it was running a Swift task at the time
/// (a thread of the cooperative pool, or whatever runs a task, which must not block), whether it was one of NIO's
/// event loops (which must not block either), and its name; ``unresolvableName`` fails
/// with `EAI_NONAME`, and ``failingName(_:)`` with the code given. Every other name goes to the C library's resolver
/// unchanged.
///
/// ```swift
/// let channel = try await NIOServerResource(host: ResolverProbe.probeName, port: 0) { ... }.start()
/// #expect(ResolverProbe.calls.withLock { $0 }.allSatisfy { !$0.onTask })
/// ```
enum ResolverProbe {
    /// Resolves as 127.0.0.1 and is noted in ``calls``.
    static let probeName = "resolver-probe.nio-adapter.test"
    /// Resolves as ``probeName`` does, noted in ``controlCalls``: for the test that checks the probe itself.
    static let controlName = "control.nio-adapter.test"
    /// Fails to resolve with `EAI_NONAME`.
    static let unresolvableName = failingName(EAI_NONAME)

    /// A name that fails to resolve with getaddrinfo's error `code`.
    static func failingName(_ code: Int32) -> String {
        "fails-with\(code)\(suffix)"
    }

    /// Blocks its resolver (as a DNS server that does not answer does) until ``releaseHeld()`` or for 10 s, then
    /// fails with `EAI_AGAIN`.
    static let heldName = "held.nio-adapter.test"
    /// How many resolutions of ``heldName`` began.
    static let heldResolutions = Atomic(0)
    private static let heldReleased = Atomic(false)

    /// Lets every resolution of ``heldName``, present and to come, fail at once.
    static func releaseHeld() {
        heldReleased.store(true, ordering: .releasing)
    }

    /// Whether ``releaseHeld()`` was called.
    static var isHeldReleased: Bool {
        heldReleased.load(ordering: .acquiring)
    }

    /// Holds the calling thread as ``heldName`` says.
    static func hold() -> Int32 {
        heldResolutions.add(1, ordering: .releasing)
        for _ in 0..<2_000 where !isHeldReleased { usleep(5_000) }
        return EAI_AGAIN
    }

    /// A name that blocks its resolver as ``heldName`` does, released by ``releaseHeld(_:)`` with the same `key`
    /// only: for a test that other tests' releases must not disturb.
    static func heldName(_ key: String) -> String {
        "held-\(key)\(suffix)"
    }

    /// Lets every resolution of `heldName(key)`, present and to come, fail at once.
    static func releaseHeld(_ key: String) {
        _ = released.withLock { $0.insert(key) }
    }

    /// Whether ``releaseHeld(_:)`` was called for `key`.
    static func isReleased(_ key: String) -> Bool {
        released.withLock { $0.contains(key) }
    }

    /// How many resolutions of `heldName(key)` began.
    static func heldResolutions(_ key: String) -> Int {
        keyedResolutions.withLock { $0[key, default: 0] }
    }

    private static let released = Mutex<Set<String>>([])
    private static let keyedResolutions = Mutex<[String: Int]>([:])

    /// The key of a name made by ``heldName(_:)``.
    static func heldKey(of name: String) -> String? {
        guard name.hasPrefix("held-"), name.hasSuffix(suffix) else { return nil }
        return String(name.dropFirst("held-".count).dropLast(suffix.count))
    }

    /// Holds the calling thread as `heldName(key)` says.
    static func hold(_ key: String) -> Int32 {
        keyedResolutions.withLock { $0[key, default: 0] += 1 }
        for _ in 0..<2_000 where !released.withLock({ $0.contains(key) }) { usleep(5_000) }
        return EAI_AGAIN
    }

    /// The end of ``failingName(_:)``'s names.
    static let suffix = ".nio-adapter.test"

    /// The code a name made by ``failingName(_:)`` fails with.
    static func failure(of name: String) -> Int32? {
        guard name.hasPrefix("fails-with"), name.hasSuffix(suffix) else { return nil }
        return Int32(name.dropFirst("fails-with".count).dropLast(suffix.count))
    }

    /// The thread that resolved ``probeName`` once.
    struct Call: Sendable, CustomStringConvertible {
        /// Whether a Swift task was running on it.
        var onTask: Bool
        /// Whether it was an event loop's thread (of any `MultiThreadedEventLoopGroup`, the singleton's included).
        var onEventLoop: Bool
        /// Its name.
        var thread: String

        var description: String {
            "\(thread)\(onTask ? " (running a task)" : "")\(onEventLoop ? " (an event loop)" : "")"
        }
    }

    /// Every resolution of ``probeName``.
    static let calls = Mutex<[Call]>([])
    /// Every resolution of ``controlName``.
    static let controlCalls = Mutex<[Call]>([])

    /// The name of the calling thread (Linux keeps it in /proc; glibc's pthread_getname_np is not imported).
    static func threadName() -> String {
        let descriptor = open("/proc/thread-self/comm", O_RDONLY)
        guard descriptor >= 0 else { return "?" }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return "?" }
        // The name ends with a newline.
        return String(decoding: buffer[..<count].filter { $0 != 0x0A }, as: UTF8.self)
    }

    typealias Getaddrinfo =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<addrinfo>?,
            UnsafeMutablePointer<UnsafeMutablePointer<addrinfo>?>?
        ) -> Int32

    /// The C library's own `getaddrinfo`, the next definition after this binary's (`RTLD_NEXT` is `(void *)-1`).
    static let original: Getaddrinfo = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -1), "getaddrinfo") else {
            fatalError("the C library has no getaddrinfo")
        }
        return unsafeBitCast(symbol, to: Getaddrinfo.self)
    }()
}

/// The process's `getaddrinfo` (see ``ResolverProbe``).
@_cdecl("getaddrinfo")
func probedGetaddrinfo(
    _ node: UnsafePointer<CChar>?,
    _ service: UnsafePointer<CChar>?,
    _ hints: UnsafePointer<addrinfo>?,
    _ result: UnsafeMutablePointer<UnsafeMutablePointer<addrinfo>?>?
) -> Int32 {
    let name = node.map { String(cString: $0) }
    if let name, let code = ResolverProbe.failure(of: name) { return code }
    if name == ResolverProbe.heldName { return ResolverProbe.hold() }
    if let name, let key = ResolverProbe.heldKey(of: name) { return ResolverProbe.hold(key) }
    guard let name, name == ResolverProbe.probeName || name == ResolverProbe.controlName else {
        return ResolverProbe.original(node, service, hints, result)
    }
    // A task's job is running on this thread exactly when the current task is set.
    let onTask = withUnsafeCurrentTask { $0 != nil }
    let onEventLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
    let call = ResolverProbe.Call(onTask: onTask, onEventLoop: onEventLoop, thread: ResolverProbe.threadName())
    if name == ResolverProbe.probeName {
        ResolverProbe.calls.withLock { $0.append(call) }
    } else {
        ResolverProbe.controlCalls.withLock { $0.append(call) }
    }
    return ResolverProbe.original("127.0.0.1", service, hints, result)
}
