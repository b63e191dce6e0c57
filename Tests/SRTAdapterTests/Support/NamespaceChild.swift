import Foundation
import SRTTestSupport
import Synchronization
import Testing

@testable import SRTAdapter

/// Runs one test of this binary in a private network namespace that exists only for that run.
///
/// The parent creates the namespace, runs the `setup` commands in it, starts this test binary there
/// (`ip netns exec NAME <binary> --filter <child suite>`, with `SRT_NETNS_CHILD` naming the suite so that only it is
/// enabled), collects its standard output, and deletes the namespace, whatever happened. Every address the child
/// uses lives in that namespace. Needs root and iproute2.
enum NamespaceChild {
    static let variable = "SRT_NETNS_CHILD"
    static let endMarker = "NETNS-CHILD END"

    /// Root, `ip` present, and not already a child.
    static var isAvailable: Bool {
        Prerequisite.namespaces.allowsRunning && ProcessInfo.processInfo.environment[variable] == nil
    }

    /// Whether this process is the namespace child for `suite`.
    static func isChild(_ suite: String) -> Bool {
        ProcessInfo.processInfo.environment[variable] == suite
    }

    /// Ends the child: the marker tells the parent it finished; ``SRTRuntime/exit(_:)`` leaves the way a program
    /// would (`_exit` once a receive thread died, which skips libsrt's destructor), and the parent times it.
    static func end() -> Never {
        print(endMarker)
        SRTRuntime.exit(0)
    }

    /// Runs the child suite `filter` in a fresh namespace; returns what it printed.
    static func run(filter: String, setup: [[String]], limit: Duration = .seconds(90)) async throws -> String {
        let namespace = "srt\(filter.prefix(6).lowercased())\(getpid())"
        try ip(["netns", "add", namespace])
        defer { try? ip(["netns", "del", namespace]) }
        for command in setup { try ip(["netns", "exec", namespace] + command) }

        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let child = try ChildProcess(
            "/usr/sbin/ip",
            ["netns", "exec", namespace, binary, "--testing-library", "swift-testing", "--filter", filter],
            environment: [variable: filter])
        defer { child.terminate() }
        let output = PipeDrain(child.standardOutput)
        // Its log goes to standard error: read too, or a full pipe blocks every thread that logs (the whole child,
        // once its pool threads do). The last 16 KiB are kept for a failure's message.
        let errors = PipeDrain(child.standardError, keeping: 16_384)
        let finished = await TestSupport.eventually(within: limit) {
            !child.process.isRunning || output.text.contains(endMarker)
        }
        let marked = ContinuousClock.now
        let exited = await TestSupport.eventually(within: .seconds(5)) { !child.process.isRunning }
        let (text, log) = (output.text, errors.text)
        #expect(finished, "the child did not finish within \(limit): \(text)\nits log's end:\n\(log)")
        #expect(exited, "the child did not exit within 5 s of its end marker")
        print("NETNS child \(filter) exited \(marked.duration(to: .now)) after its end marker was read")
        return text
    }

    /// Runs `ip` with `arguments`, bounded to 10 s.
    static func ip(_ arguments: [String]) throws {
        let process = try ChildProcess("/usr/sbin/ip", arguments)
        let deadline = Date().addingTimeInterval(10)
        while process.process.isRunning, Date() < deadline { usleep(10_000) }
        process.terminate()
        guard process.process.terminationStatus == 0 else {
            throw Missing(what: "ip \(arguments.joined(separator: " ")) succeeding")
        }
    }
}

/// Reads a pipe until its end on a Dispatch thread (blocking reads, never on the Swift pool), keeping what came, or
/// its last `keeping` bytes.
final class PipeDrain: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    init(_ pipe: Pipe, keeping limit: Int = .max) {
        let reader = pipe.fileHandleForReading
        DispatchQueue.global().async { [self] in
            while true {
                let data = reader.availableData
                if data.isEmpty { return }
                bytes.withLock { kept in
                    kept += data
                    if kept.count > limit { kept.removeFirst(kept.count - limit) }
                }
            }
        }
    }

    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}
