import Logging
import NIOAdapter
import NIOCore
import NIOPosix
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

@Suite("Where NIO channels bind: host names, port 0", .timeLimit(.minutes(1)))
struct NIOBindingTests {
    static let quiet = Logger(label: "nio", factory: { _ in SwiftLogNoOpLogHandler() })

    static func policy() throws -> RestartPolicy {
        try RestartPolicy(backoff: .constant(.milliseconds(20)))
    }

    @Test("a host name is resolved on a thread that may block, never on the task that starts the channel")
    func hostNameResolvedOffThePool() async throws {
        let before = ResolverProbe.calls.withLock { $0.count }
        let server = try NIOServerResource(host: ResolverProbe.probeName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let listening = try await server.start()
        await server.stop(listening)
        let receiver = try NIODatagramResource(host: ResolverProbe.probeName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let socket = try await receiver.start()
        await receiver.stop(socket)
        // Other tests may resolve the probe name meanwhile; none of them starts on a task that may block either.
        let calls = ResolverProbe.calls.withLock { Array($0[before...]) }
        #expect(calls.count >= 2)
        #expect(calls.allSatisfy { !$0.onTask }, "getaddrinfo ran on a Swift task's thread: \(calls)")
        #expect(calls.allSatisfy { !$0.onEventLoop }, "getaddrinfo ran on an event loop: \(calls)")
    }

    @Test("control: the probe tells a resolution on an event loop, on a task and on NIO's thread pool apart")
    func probeTellsThreadsApart() async throws {
        let resolve = { @Sendable in _ = try SocketAddress.makeAddressResolvingHost(ResolverProbe.controlName, port: 0)
        }
        // The singleton group's loop, which the adapter uses by default (its threads are NIO-SGLTN-…).
        try await MultiThreadedEventLoopGroup.singleton.next().submit(resolve).get()
        try resolve()
        try await NIOThreadPool.singleton.runIfActive(resolve)
        let calls = ResolverProbe.controlCalls.withLock { $0 }
        try #require(calls.count == 3)
        #expect(calls[0].onEventLoop && !calls[0].onTask, "\(calls[0])")
        #expect(calls[1].onTask && !calls[1].onEventLoop, "\(calls[1])")
        #expect(!calls[2].onTask && !calls[2].onEventLoop, "\(calls[2])")
    }

    @Test("TCP: port 0 is chosen once; a restart binds the same port, and connections of the old listener go on")
    func tcpPortZeroKeptAcrossRestart() async throws {
        let listening = Mutex<[any Channel]>([])
        let server = try NIOServerResource(
            host: "127.0.0.1",
            port: 0,
            drain: .immediate,
            serverChannelInitializer: { channel in
                listening.withLock { $0.append(channel) }
                return channel.eventLoop.makeSucceededVoidFuture()
            },
            childChannelInitializer: { $0.pipeline.addHandler(EchoHandler()) }
        )
        let supervisor = ResourceSupervisor(server, name: "echo", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        #expect(server.boundPort == nil)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let first = try #require(listening.withLock { $0.first })
        let port = try #require(first.localAddress?.port)
        #expect(server.boundPort == port)
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("a")
        #expect(await client.wait(within: loopbackWait) { client.received == "a" })
        try await first.close()  // the socket "fails" under the server

        #expect(await NIOResourceTests.ready(recorder))
        let second = try #require(listening.withLock { $0.count == 2 ? $0[1] : nil })
        #expect(second.localAddress?.port == port && server.boundPort == port)
        #expect(try await echo("again", port: port) == "again")
        // The connection the first listener accepted is still served.
        try await client.send("b")
        #expect(await client.wait(within: loopbackWait) { client.received == "ab" })
        task.cancel()
        try await task.value
    }

    @Test("UDP: port 0 is chosen once; a rebind after an unexpected close takes the same port")
    func udpPortZeroKeptAcrossRestart() async throws {
        let sockets = Mutex<[any Channel]>([])
        let receiver = try NIODatagramResource(host: "127.0.0.1", port: 0) { channel in
            sockets.withLock { $0.append(channel) }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        let supervisor = ResourceSupervisor(receiver, name: "udp", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        #expect(await NIOResourceTests.ready(recorder))
        let first = try #require(sockets.withLock { $0.first })
        let port = try #require(first.localAddress?.port)
        try await first.close()
        #expect(await NIOResourceTests.ready(recorder))
        let second = try #require(sockets.withLock { $0.count == 2 ? $0[1] : nil })
        #expect(second.localAddress?.port == port && receiver.boundPort == port)
        task.cancel()
        try await task.value
    }

    @Test(
        "a port outside 0...65535 or an empty host is refused at construction, with an IP literal or a name",
        arguments: [
            ("127.0.0.1", 70_000), ("127.0.0.1", -1), ("::1", 65_536), ("localhost", 70_000), ("localhost", -1),
            ("", 8_080),
        ])
    func invalidTargetThrows(host: String, port: Int) {
        // Unchecked, a literal trapped in NIO's `SocketAddress` at the first start, and a name bound port - 65536.
        let error = #expect(throws: ConfigurationError.self) {
            try NIOServerResource(host: host, port: port) { $0.eventLoop.makeSucceededVoidFuture() }
        }
        #expect(error?.option == (host.isEmpty ? "host" : "port"))
        #expect(throws: ConfigurationError.self) {
            try NIODatagramResource(host: host, port: port) { $0.eventLoop.makeSucceededVoidFuture() }
        }
    }

    @Test("the ends of the port range and a name are accepted")
    func validTargets() throws {
        for (host, port) in [("127.0.0.1", 0), ("::1", 65_535), ("localhost", 1)] {
            let server = try NIOServerResource(host: host, port: port) { $0.eventLoop.makeSucceededVoidFuture() }
            #expect(server.port == port && server.host == host)
        }
    }

    @Test("a name that does not resolve fails the start with its own code, and backs off to try again")
    func unresolvableNameRestarts() async throws {
        let server = try NIOServerResource(host: ResolverProbe.unresolvableName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let supervisor = ResourceSupervisor(server, name: "unresolved", policy: try Self.policy(), logger: Self.quiet)
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }
        for _ in 0..<2 {
            let (failure, error) = try #require(await NIOResourceTests.firstFailure(recorder))
            #expect(error.code == .resolutionFailed && failure.phase == .start && failure.decision == .restart)
            #expect((error.underlying as? SocketAddressError.UnknownHost)?.errorCode == Int(EAI_NONAME))
        }
        #expect(server.boundPort == nil)
        task.cancel()
        try await task.value
    }

    /// Set once, from one task, read from another.
    final class Flag: Sendable {
        private let value = Atomic(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    @Test("names that hang hold only their own threads: another name resolves meanwhile")
    func hangingNamesDoNotStarve() async throws {
        let key = "starve-\(UInt64.random(in: 0...UInt64.max))"
        defer { ResolverProbe.releaseHeld(key) }
        // Twice as many hanging names as NIO's own pool has threads.
        let hanging = 2 * System.coreCount
        let starts = (0..<hanging).map { _ in
            Task {
                let server = try NIOServerResource(host: ResolverProbe.heldName(key), port: 0) {
                    $0.eventLoop.makeSucceededVoidFuture()
                }
                _ = try? await server.start()
            }
        }
        for _ in 0..<1_000 where ResolverProbe.heldResolutions(key) < hanging {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(ResolverProbe.heldResolutions(key) == hanging, "every hanging name is being resolved at once")
        // A name that answers resolves while they all hang.
        let server = try NIOServerResource(host: ResolverProbe.probeName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let resolved = Task {
            let channel = try await server.start()
            let whileHanging = ResolverProbe.heldResolutions(key) == hanging && !ResolverProbe.isReleased(key)
            await server.stop(channel)
            return whileHanging
        }
        // The hanging names are let go after 10 s whatever happens, so that a resolver queued behind them finishes.
        let releaser = Task {
            try? await Task.sleep(for: .seconds(10))
            ResolverProbe.releaseHeld(key)
        }
        #expect(try await resolved.value, "the name resolved only once the hanging ones were let go")
        releaser.cancel()
        ResolverProbe.releaseHeld(key)
        for start in starts { _ = await start.result }
    }

    @Test("past 64 resolutions in progress a start fails at once with resolutionFailed, and restarts")
    func resolutionCap() async {
        // In a child process (an exit test): the cap is the whole process's, and other tests resolve names meanwhile.
        await #expect(processExitsWith: .success) {
            let problems = await ResolutionCapScenario.run()
            for problem in problems { print("problem: \(problem)") }
            exit(problems.isEmpty ? 0 : 1)
        }
    }

    @Test("cancelled while a resolver hangs, the supervisor ends at once: it does not wait for getaddrinfo")
    func cancelledDuringResolution() async throws {
        let before = ResolverProbe.heldResolutions.load(ordering: .acquiring)
        let server = try NIOServerResource(host: ResolverProbe.heldName, port: 0) {
            $0.eventLoop.makeSucceededVoidFuture()
        }
        let supervisor = ResourceSupervisor(server, name: "held", policy: try Self.policy(), logger: Self.quiet)
        let ended = Flag()
        let task = Task {
            try? await supervisor.run()
            // Whether the run ended while getaddrinfo still hung.
            let whileHeld = !ResolverProbe.isHeldReleased
            ended.set()
            return whileHeld
        }
        // Let the resolver go once the run ended, or after 10 s, whatever happens.
        let releaser = Task {
            for _ in 0..<1_000 where !ended.isSet { try? await Task.sleep(for: .milliseconds(10)) }
            ResolverProbe.releaseHeld()
        }
        defer { ResolverProbe.releaseHeld() }
        var entered = false
        for _ in 0..<1_000 where !entered {
            entered = ResolverProbe.heldResolutions.load(ordering: .acquiring) > before
            if !entered { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(entered, "the start is resolving the host")
        task.cancel()
        let endedWhileHeld = await task.value
        await releaser.value
        #expect(endedWhileHeld, "the run waited for the hung resolver to give up")
        let state = supervisor.state
        if case .stopped = state {} else { Issue.record("not stopped: \(state)") }
    }

    @Test("resolution failures: an unknown name or a silent resolver restarts, a malformed request gives up")
    func resolutionClassification() {
        func decision(_ code: Int32) -> FailureDecision? {
            // NIO's own error, as its resolver makes it from getaddrinfo's code.
            let resolved = Result {
                try SocketAddress.makeAddressResolvingHost(ResolverProbe.failingName(code), port: 0)
            }
            guard case .failure(let unknown) = resolved else { return nil }
            return NIOAdapterError(.resolutionFailed, address: "x", underlying: unknown).failureDecision
        }
        for code in [EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_MEMORY] { #expect(decision(code) == .restart, "\(code)") }
        // Too many resolutions in progress: the next start may find a place.
        let full = NIOAdapterError(.resolutionFailed, address: "x", underlying: CancellationError())
        #expect(full.failureDecision == .restart)
        for code in [EAI_FAMILY, EAI_SOCKTYPE, EAI_SERVICE, EAI_BADFLAGS] {
            #expect(decision(code) == .giveUp, "\(code)")
        }
    }

    @Test("an address resolved beforehand with port 0: each start binds the port the first one got")
    func resolvedAddressPortZero() async throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        let server = NIOServerResource(address: address, drain: .immediate) { $0.pipeline.addHandler(EchoHandler()) }
        #expect(server.host == "127.0.0.1" && server.port == 0 && server.boundPort == nil)
        let first = try await server.start()
        let port = try #require(first.localAddress?.port)
        await server.stop(first)
        // As a supervisor would: another socket of the machine (a client's ephemeral port) may hold the freed port
        // for a moment, and the start fails with EADDRINUSE, a transient error, until it is free again.
        var second: (any Channel)?
        for _ in 0..<250 where second == nil {
            do {
                second = try await server.start()
            } catch let error as NIOAdapterError where error.failureDecision == .restart {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let rebound = try #require(second, "the freed port was bound again within 5 s")
        #expect(rebound.localAddress?.port == port && server.boundPort == port)
        #expect(try await echo("resolved", port: port) == "resolved")
        await server.stop(rebound)
    }
}

/// 64 names that hang, then one more start: it must fail at once, and succeed once they are let go.
enum ResolutionCapScenario {
    static func run() async -> [String] {
        var problems: [String] = []
        let key = "cap"
        let starts = (0..<64).map { _ in
            Task {
                let server = try NIOServerResource(host: ResolverProbe.heldName(key), port: 0) {
                    $0.eventLoop.makeSucceededVoidFuture()
                }
                _ = try? await server.start()
            }
        }
        for _ in 0..<1_000 where ResolverProbe.heldResolutions(key) < 64 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if ResolverProbe.heldResolutions(key) != 64 {
            problems.append("\(ResolverProbe.heldResolutions(key)) of 64 hanging resolutions began")
        }
        do {
            let server = try NIOServerResource(host: ResolverProbe.probeName, port: 0) {
                $0.eventLoop.makeSucceededVoidFuture()
            }
            do {
                let channel = try await server.start()
                await server.stop(channel)
                problems.append("the 65th resolution went ahead")
            } catch let error as NIOAdapterError {
                if error.code != .resolutionFailed || error.failureDecision != .restart {
                    problems.append(
                        "the 65th start failed with \(error), decided \(String(describing: error.failureDecision))")
                }
            }
            if ResolverProbe.isReleased(key) { problems.append("the 65th failed only once the others were let go") }
            ResolverProbe.releaseHeld(key)
            for start in starts { _ = await start.result }
            // Their threads gone, names resolve again.
            let channel = try await server.start()
            await server.stop(channel)
        } catch {
            problems.append("\(error)")
        }
        return problems
    }
}
