import CSRT
import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

/// Helpers shared by the SRT adapter's tests; every address is on loopback.
enum TestSupport {
    /// A listener configuration on 127.0.0.1 (or ::1) with a port the kernel chooses, so suites run in parallel.
    static func loopback(
        ipv6: Bool = false,
        passphrase: SRTPassphrase? = nil,
        maxConnections: Int = 1024,
        backlog: Int = 64,
        accessControl: SRTAccessControl? = nil,
        // Every caller of these tests comes from one address, 127.0.0.1: the per-address share of pending
        // handshakes (4 by default) is tested where it is the subject, not in every burst of reconnects.
        maxPendingPerAddress: Int = 1_024
    ) throws -> SRTListenerConfiguration {
        try SRTListenerConfiguration(
            host: ipv6 ? "::1" : "127.0.0.1", port: 0, latency: .milliseconds(40), passphrase: passphrase,
            backlog: backlog, maxConnections: maxConnections, maxPendingPerAddress: maxPendingPerAddress,
            accessControl: accessControl)
    }

    /// A caller configuration for `listener`.
    static func caller(
        to listener: SRTListenSocket,
        streamID: String = "",
        passphrase: SRTPassphrase? = nil,
        connectTimeout: Duration = .seconds(2)
    ) throws -> SRTCallerConfiguration {
        try SRTCallerConfiguration(
            host: listener.localAddress.host, port: listener.localAddress.port, streamID: streamID,
            latency: .milliseconds(40), passphrase: passphrase, connectTimeout: connectTimeout)
    }

    /// Connects a caller and accepts it on `listener`; both ends.
    static func pair(
        _ listener: SRTListenSocket, streamID: String = "pair", reactor: SRTReactor = .shared
    ) async throws -> (caller: SRTConnection, accepted: SRTConnection) {
        async let accepted = listener.accept()
        let caller = try await SRTConnection.connect(caller(to: listener, streamID: streamID), reactor: reactor)
        return (caller, try await accepted)
    }

    /// "Promptly" for close and cancellation: 100 ms is the goal and what an idle machine shows (a few ms); the
    /// bound is wider because the 1,000-connection child process may hold both cores at the same moment.
    static let promptly = Duration.milliseconds(300)

    /// Ends an exit test's child: prints `status` as `CHILD EXIT n`, flushes, and leaves with `_exit(0)`. Always
    /// 0, because Swift Testing returns no captured output when an exit test's condition fails, and the output is
    /// what says why; the parent judges by the markers it prints. `_exit`, because after a receive-thread death
    /// `exit` would never return (`Docs/libsrt-failure-modes.md` §4).
    static func exitChild(_ status: Int32) -> Never {
        ChildProcess.killAll()
        print("CHILD EXIT \(status)")
        fflush(nil)
        _exit(0)
    }

    /// Sends `datagram` from the UDP socket `fd` to 127.0.0.1:`port`; `sendto`'s result.
    static func sendToLoopback(_ fd: Int32, port: Int, _ datagram: [UInt8]) -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// The access-control deadline for tests about its answers rather than its deadline: a second, not the default
    /// 50 ms, which a test process starved by parallel suites was seen to miss with a quick closure (1503 instead).
    static let accessDeadline = Duration.seconds(1)

    /// Threads of this process (`/proc/self/task`).
    static var threadCount: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
    }

    /// Open descriptors of this process (`/proc/self/fd`).
    static var descriptorCount: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// Runs `body`, failing with `TimedOut` after `limit`; the loser task is cancelled.
    static func within<T: Sendable>(
        _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let result = try await group.next(), let value = result else { throw TimedOut(limit: limit) }
            return value
        }
    }

    /// Waits (2 s at most) until a task waits on each of `sockets` in the shared reactor: a close or a cancellation
    /// after this meets a wait in progress, not one that has yet to begin.
    static func waitersArrived(on sockets: SRTSOCKET...) async -> Bool {
        await eventually { sockets.allSatisfy { SRTReactor.shared.waiterCount(on: $0) > 0 } }
    }

    /// Polls `condition` every 10 ms until it holds or `limit` passes; returns whether it held.
    static func eventually(
        within limit: Duration = .seconds(2), _ condition: @Sendable () async -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "timed out after \(limit)" }
}

/// A child process that is killed (by its pid) when the test ends, whether it passed or not.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let standardInput = Pipe()
    let standardOutput = Pipe()
    let standardError = Pipe()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = standardInput
        process.standardOutput = standardOutput
        process.standardError = standardError
        try process.run()
        Self.live.withLock { _ = $0.insert(process.processIdentifier) }
    }

    /// The pids of the children not yet terminated: a scenario that fails leaves through `_exit`, which runs no
    /// `defer` and no `deinit`, so `TestSupport.exitChild` kills these first.
    static let live = Mutex<Set<Int32>>([])

    /// Kills every child still alive (by its pid).
    static func killAll() {
        for pid in live.withLock({ $0 }) { kill(pid, SIGKILL) }
    }

    var pid: Int32 { process.processIdentifier }

    /// Kills the child by its pid and reaps it; safe to call twice. SIGKILL, not SIGTERM: a graceful exit was
    /// measured at up to a second, during which this (synchronous) call would hold a Swift pool thread.
    func terminate() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        _ = Self.live.withLock { $0.remove(pid) }
    }

    deinit { terminate() }
}

extension TestSupport {
    /// Judges an exit test's child by the markers it printed: shows its `marker` and `FAIL` lines, and expects
    /// `<marker> OK` (children always exit 0, see ``exitChild(_:)``, so the output is what says how it went).
    static func expectChild(
        _ result: ExitTest.Result?, marker: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let output = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        for line in output.split(separator: "\n") where line.hasPrefix(marker) || line.hasPrefix("FAIL") {
            print(line)
        }
        #expect(output.contains("\(marker) OK"), "\(output)", sourceLocation: sourceLocation)
    }
}

extension TestSupport {
    /// The body of an exit test's child: runs `scenario`, prints `FAIL:` with its error if it throws, and leaves
    /// through ``exitChild(_:)`` either way.
    ///
    /// A scenario that has not finished within `limit` fails (exit status 9, with everything it printed so far) instead
    /// of keeping the test run waiting for good: a watchdog on a thread of its own, outside the Swift pool, which a
    /// stuck scenario may have left with nothing to run.
    static func runChild(within limit: Duration = .seconds(120), _ scenario: () async throws -> Void) async -> Never {
        let seconds = max(1, limit.components.seconds)
        Thread.detachNewThread {
            sleep(UInt32(clamping: seconds))
            print("FAIL: the scenario did not finish within \(seconds) s")
            exitChild(9)
        }
        do {
            try await scenario()
        } catch {
            print("FAIL: \(error)")
            exitChild(2)
        }
        exitChild(0)
    }
}
