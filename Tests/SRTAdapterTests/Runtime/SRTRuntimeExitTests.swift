import Foundation
import SRTTestSupport
import Testing

@testable import SRTAdapter

extension Loopback {
    /// A healthy process that ends with `exit` right after its SRT server stopped. Left to libsrt's static
    /// destructors, the cleanup raced with the destructors of libsrt's other globals: 9 of 20 such exits crashed
    /// (SIGSEGV, or "double free or corruption" in the thread `SRT:GC`). ``SRTRuntime`` now stops the reactor and
    /// cleans libsrt up from an `atexit` handler, before those destructors run.
    ///
    /// The child is this test binary started afresh (an exit test's child did not show the race).
    @Suite("Exit of a healthy process")
    struct SRTRuntimeExitTests {
        static let variable = "SRT_EXIT_CHILD"

        @Test("10 runs of the article's program, stopped by SIGTERM: each exits with status 0, none crashes")
        func programExits() async throws {
            let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            var durations: [Duration] = []
            for run in 0..<10 {
                let started = ContinuousClock.now
                // A port the kernel chose: with a fixed one, a port held elsewhere could answer the child's caller.
                let port = try FreePort.loopback()
                let child = try ChildProcess(
                    binary, ["--testing-library", "swift-testing", "--filter", "SRTExitChild"],
                    environment: [Self.variable: "1", "INGEST_PORT": "\(port)"])
                defer { child.terminate() }
                let ended = await TestSupport.eventually(within: .seconds(15)) { !child.process.isRunning }
                try #require(ended, "run \(run) did not end")
                durations.append(started.duration(to: .now))
                let errors = String(
                    decoding: child.standardError.fileHandleForReading.readDataToEndOfFile().suffix(2000),
                    as: UTF8.self)
                #expect(child.process.terminationReason == .exit, "run \(run): \(errors)")
                #expect(child.process.terminationStatus == 0, "run \(run): \(errors)")
            }
            print("EXIT 10 children, start to exit: \(durations.map { "\($0)" }.joined(separator: ", "))")
        }

        @Test("SRTRuntime.exit in a healthy process leaves with the status")
        func runtimeExit() async throws {
            await #expect(processExitsWith: .exitCode(4)) {
                let listener = try SRTListenSocket.open(TestSupport.loopback())
                let (caller, accepted) = try await TestSupport.pair(listener)
                let pending = Task { _ = try await accepted.receive() }
                try await Task.sleep(for: .milliseconds(20))
                _ = (pending, caller)
                SRTRuntime.exit(4)
            }
        }
    }
}

/// The child of ``Loopback/SRTRuntimeExitTests``: the article's `IngestProgram.main`, one caller, then SIGTERM;
/// `main` ends the process through `SRTRuntime.exit(0)`, a plain `exit` since no receive thread died.
@Suite("SRTExitChild")
struct SRTExitChild {
    @Test(.enabled(if: ProcessInfo.processInfo.environment[Loopback.SRTRuntimeExitTests.variable] != nil))
    func child() async {
        Task {
            var connected: SRTConnection?
            let port = ProcessInfo.processInfo.environment["INGEST_PORT"].flatMap { Int($0) } ?? 0
            for _ in 0..<50 where connected == nil {
                connected = try? await SRTConnection.connect(
                    try SRTCallerConfiguration(
                        host: "127.0.0.1", port: port, streamID: "exit", connectTimeout: .milliseconds(200)))
            }
            // Without a connection the run would exit 0 having tested nothing.
            guard let connected else {
                print("the program's server never accepted a caller")
                exit(3)
            }
            try await connected.send([1, 2, 3])
            try await Task.sleep(for: .milliseconds(50))
            kill(getpid(), SIGTERM)
        }
        await IngestProgram.main()
    }
}
