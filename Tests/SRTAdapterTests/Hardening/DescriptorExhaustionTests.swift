import CSRT
import Foundation
import Glibc
import Logging
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// File-descriptor exhaustion (`RLIMIT_NOFILE`, Docs/srt-fault-model.md). What needs a descriptor in
    /// libsrt 1.5.1: a new UDP socket (a listener's bind, an unbound caller's connect: 1003 or 1000 with EMFILE)
    /// and an epoll container (1000, EMFILE). Accepting does not: accepted sockets share the listener's UDP socket.
    ///
    /// The process keeps a few descriptors free, but for an instant: with none free, libdispatch kills a Swift
    /// process within a second or so while work is queued (Docs/srt-fault-model.md, F), so the adapter leaves
    /// ``SRTRuntime/reservedDescriptors`` to the rest of the process and fails its own binds and connects with
    /// EMFILE below that.
    @Suite("File-descriptor exhaustion")
    struct DescriptorExhaustionTests {
        @Test(
            "out of descriptors: accepting goes on, the rebind and the reconnect back off without spinning, both resume once descriptors are free"
        )
        func exhaustion() async throws {
            // In a child process (an exit test): the limit and the filled table are the whole process's.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await DescriptorExhaustionScenario.run()
            }
            TestSupport.expectChild(result, marker: "FDX")
        }

        @Test(
            "none free: libsrt's epoll and an unbound connect fail with 1000/EMFILE, a socket needs none, a dead listener is retired and its port bound again"
        )
        func retireWithNoneFree() async {
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(DescriptorExhaustionScenario.retire)
            }
            TestSupport.expectChild(result, marker: "RETIRE")
        }

        @Test("a probe that could not make its socket is inconclusive, not a verdict on the listener")
        func inconclusiveProbe() {
            let notSent = SRTProbeResult(
                isAlive: false, latency: .zero, error: SRTRuntime.descriptorShortage(.connect, code: .connectionSetup))
            let timedOut = SRTProbeResult(
                isAlive: false, latency: .milliseconds(100),
                error: SRTError(code: .noServer, operation: .connect, rejectReason: 16))
            #expect(notSent.isInconclusive && "\(notSent)".hasPrefix("not sent"))
            #expect(!timedOut.isInconclusive && "\(timedOut)".hasPrefix("dead"))
            #expect(SRTRuntime.hasDescriptorHeadroom, "this test process has descriptors to spare")
        }
    }
}

enum DescriptorExhaustionScenario {
    static let quiet = Logger(label: "fdx", factory: { _ in SwiftLogNoOpLogHandler() })

    static func run() async -> Never {
        await TestSupport.runChild(scenario)
    }

    /// Exponential from 20 ms, ×2, at most 640 ms, no jitter: the delays must be seen growing. A short stable
    /// uptime, so that each phase starts its streak at the first delay.
    static func policy(classifier: FailureClassifier = .default) throws -> RestartPolicy {
        try RestartPolicy(
            backoff: Backoff.exponential(initial: .milliseconds(20), multiplier: 2, maximum: .milliseconds(640)),
            classifier: classifier, stableUptime: .milliseconds(200))
    }

    static func scenario() async throws {
        let check = SocketReplacedScenario.check
        let milliseconds = SocketReplacedScenario.milliseconds
        SRTRuntime.start(logger: quiet, logLevel: .critical)
        // Periodic probes would need a descriptor each; only the probe after a death signal runs here.
        let health = try SRTHealthCheck(probeInterval: .seconds(600))
        var exhaustion = try DescriptorExhaustion(headroom: 64)
        // Fewer free than the adapter's reserve: its binds and connects fail, the rest of the process goes on.
        let scarce = SRTRuntime.reservedDescriptors / 2

        // Phase 1: the server starts while descriptors are scarce (its reactor's epoll container included: this
        // fresh process has not made one yet).
        check(exhaustion.fill(leaving: scarce) == EMFILE, "the table filled up to EMFILE")
        check(!SRTRuntime.hasDescriptorHeadroom, "scarce before the start")
        let victim = SRTServer(
            configuration: try TestSupport.loopback(), name: "victim", policy: try policy(), health: health,
            logger: quiet)
        let victimLog = CallerTesting.EventLog(victim.supervisor.events())
        let victimRunning = Task { try await victim.run() }
        defer { victimRunning.cancel() }
        let startCPU = await cpuShare(over: .milliseconds(1_500))
        let startFailures = victimLog.failures
        let startDelays = victimLog.delays
        say(
            "FDX start while exhausted: \(startFailures.count) attempts in 1.5 s, delays \(startDelays.map(milliseconds)) ms, "
                + "CPU \(percent(startCPU))")
        check(!victim.supervisor.state.isReady, "the server cannot be ready without a descriptor")
        checkTransient(startFailures, code: .socketFailure, what: "start")
        checkGrowing(startDelays, what: "start")
        check(startCPU < spinning, "CPU while backing off: \(percent(startCPU))")

        exhaustion.release(16)
        let freed = ContinuousClock.now
        check(
            await TestSupport.eventually(within: .seconds(3)) { victim.supervisor.state.isReady },
            "the server is ready once descriptors are free")
        say("FDX descriptors freed → server ready: \(milliseconds(ContinuousClock.now - freed)) ms")
        let victimAddress = try victim.localAddress.orThrow("the victim's address")
        let victimAccepted = Accepted(victim)
        let first = try await SRTConnection.connect(caller(victimAddress, "first"))
        let firstAccepted = try await victimAccepted.next("first")
        try await exchange(first, firstAccepted, "first")
        first.close()
        firstAccepted.close()

        // Phase 2, set-up: a bystander server, a connection that must outlive the exhaustion (its caller's UDP
        // socket is shared by later callers, so they need no descriptor), and a caller that will reconnect.
        // Everything made here is numbered at or above `low`, the limit of phase 3: when libsrt closes one of
        // them, no descriptor below the limit frees up.
        exhaustion.fill(leaving: 0)
        let low = exhaustion.limit
        try exhaustion.setLimit(low + 64)
        let bystander = SRTServer(
            configuration: try TestSupport.loopback(), name: "bystander", policy: try policy(), health: health,
            logger: quiet)
        let bystanderLog = CallerTesting.EventLog(bystander.supervisor.events())
        let bystanderRunning = Task { try await bystander.run() }
        defer { bystanderRunning.cancel() }
        check(await TestSupport.eventually { bystander.supervisor.state.isReady }, "the bystander is ready")
        let bystanderAddress = try bystander.localAddress.orThrow("the bystander's address")
        let accepted = Accepted(bystander)
        let local = try SRTAddress(host: "127.0.0.1", port: HandshakeFloodScenario.freeUDPPort())
        let holder = try await SRTConnection.connect(caller(bystanderAddress, "holder", from: local))
        let holderAccepted = try await accepted.next("holder")
        let reconnector = SRTCaller(
            configuration: try caller(bystanderAddress, "reconnector"), name: "reconnector",
            policy: try policy(classifier: SRTConnector.classifier), logger: quiet)
        let reconnectorLog = CallerTesting.EventLog(reconnector.supervisor.events())
        let reconnectorRunning = Task { try await reconnector.run() }
        defer { reconnectorRunning.cancel() }
        let reconnectorAccepted = try await accepted.next("reconnector")
        let victimListener = try victim.supervisor.resource.current.orThrow("the victim's listener")
        // Longer than the stable uptime: the failures below start a fresh streak.
        try await Task.sleep(for: .milliseconds(300))

        // Phase 3: scarce again, with everything running.
        try exhaustion.setLimit(low)
        exhaustion.release(scarce)
        check(!SRTRuntime.hasDescriptorHeadroom, "scarce again")
        let exhausted = ContinuousClock.now
        // Accepting needs no descriptor.
        let during = try await SRTConnection.connect(caller(bystanderAddress, "during", from: local))
        let duringAccepted = try await accepted.next("during")
        try await exchange(during, duringAccepted, "during")
        say("FDX accepted a caller while exhausted in \(milliseconds(ContinuousClock.now - exhausted)) ms")
        // The reconnecting caller loses its connection; its connect needs a new UDP socket.
        let victimMark = victimLog.entries.count
        let reconnectorMark = reconnectorLog.entries.count
        reconnectorAccepted.close()
        // Fault B on the victim: its rebind needs a new UDP socket. The fault is a filler put over the listener's
        // descriptor (dup2 needs no free slot).
        check(dup2(exhaustion.fillers[0], victimListener.udpDescriptor) >= 0, "fault B injected")
        // The holder's connection carries a message every 50 ms all along.
        let traffic = Task { try await stream(from: holder, to: holderAccepted, for: .milliseconds(1_500)) }
        let exhaustedCPU = await cpuShare(over: .milliseconds(1_500))
        let (sent, received) = try await traffic.value
        check(!SRTRuntime.hasDescriptorHeadroom, "still scarce at the end of the window")
        let victimFailures = failures(in: victimLog, from: victimMark)
        let reconnectorFailures = failures(in: reconnectorLog, from: reconnectorMark)
        let victimDelays = delays(in: victimLog, from: victimMark)
        let reconnectorDelays = delays(in: reconnectorLog, from: reconnectorMark)
        say(
            "FDX exhausted 1.5 s: CPU \(percent(exhaustedCPU)); victim \(victimFailures.count) failures, delays "
                + "\(victimDelays.map(milliseconds)) ms; reconnector \(reconnectorFailures.count) failures, delays "
                + "\(reconnectorDelays.map(milliseconds)) ms; holder \(received)/\(sent) messages")
        check(
            (victimFailures.first?.error as? SRTError)?.code == .receiveThreadDied,
            "the victim's death was seen: \(victimFailures.first.map(String.init(describing:)) ?? "none")")
        checkTransient(Array(victimFailures.dropFirst()), code: .socketFailure, what: "victim rebind")
        checkGrowing(victimDelays.filter { $0 > .zero }, what: "victim rebind")
        // The first failure is the lost connection; every connect after it lacked a descriptor.
        checkTransient(Array(reconnectorFailures.dropFirst()), code: .connectionSetup, what: "reconnect")
        checkGrowing(reconnectorDelays, what: "reconnect")
        check(exhaustedCPU < spinning, "CPU while exhausted: \(percent(exhaustedCPU))")
        check(sent >= 25 && received == sent, "the holder's connection kept working: \(received)/\(sent)")
        check(bystanderLog.failures.isEmpty, "the bystander never failed: \(bystanderLog.failures)")
        try await exchange(during, duringAccepted, "during, after the window")

        // Phase 4: descriptors free again.
        exhaustion.release(32)
        let released = ContinuousClock.now
        let victimBack = await TestSupport.eventually(within: .seconds(3)) { victim.supervisor.state.isReady }
        let victimTook = ContinuousClock.now - released
        let reconnected = try await accepted.next("reconnector")
        let reconnectorTook = ContinuousClock.now - released
        say(
            "FDX descriptors freed → victim ready \(milliseconds(victimTook)) ms, reconnector accepted "
                + "\(milliseconds(reconnectorTook)) ms")
        check(victimBack, "the victim listens again")
        check(victimTook < .milliseconds(1_500), "the victim within 1.5 s: \(victimTook)")
        check(reconnectorTook < .milliseconds(1_500), "the reconnector within 1.5 s: \(reconnectorTook)")
        check(victim.localAddress == victimAddress, "same port")
        let after = try await SRTConnection.connect(caller(victimAddress, "after"))
        let afterAccepted = try await victimAccepted.next("after")
        try await exchange(after, afterAccepted, "after")
        for connection in [after, afterAccepted, during, duringAccepted, holder, holderAccepted, reconnected] {
            connection.close()
        }
        say("FDX OK")
    }

    /// A listener found dead is retired while not one descriptor is free.
    static func retire() async throws {
        let check = SocketReplacedScenario.check
        SRTRuntime.start(logger: quiet, logLevel: .critical)
        let listener = try SRTListenSocket.open(TestSupport.loopback())
        var exhaustion = try DescriptorExhaustion(headroom: 16)
        // As a probe would (the receive thread is alive: putting /dev/null over its socket kills it, in this child).
        listener.markDead()
        // None free, for a moment only: synchronous, no await, far shorter than libdispatch's once-a-second look.
        exhaustion.fill(leaving: 0)
        let opened = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let openErrno = errno
        // libsrt's own calls (no adapter in between): what the adapter's reserve stands in for.
        let epoll = srt_epoll_create()
        let epollError = lastError()
        let caller = srt_create_socket()
        _ = csrt_set_bool(caller, SRTO_RCVSYN, 0)
        let connected = listener.localAddress.withSocketAddress { srt_connect(caller, $0, $1) }
        let connectError = lastError()
        await listener.retire()
        exhaustion.release(SRTRuntime.reservedDescriptors * 2)
        srt_close(caller)
        check(opened < 0 && openErrno == EMFILE, "no descriptor was free")
        check(epoll < 0 && epollError == (1000, EMFILE), "srt_epoll_create: \(epollError)")
        check(caller != SRT_INVALID_SOCK, "srt_create_socket needs no descriptor")
        check(connected == SRT_ERROR && connectError == (1000, EMFILE), "unbound srt_connect: \(connectError)")
        check(csrt_unread_bytes(listener.udpDescriptor) == -1, "the UDP descriptor is /dev/null, no socket")
        // The receive thread still sits in a recvmsg on the old socket, which keeps the port until it returns and
        // the thread dies on /dev/null (after a real death it is gone already).
        check(
            await TestSupport.eventually { SRTRuntime.receiveThreadDeathCount >= 1 },
            "the receive thread died on /dev/null")
        let fresh = try SRTListenSocket.open(try TestSupport.loopback().with(port: listener.localAddress.port))
        defer { fresh.close() }
        check(await fresh.probe().isAlive, "a fresh listener on the same port answers")
        say(
            "RETIRE none free: srt_epoll_create \(epollError), srt_connect \(connectError); retired, port "
                + "\(listener.localAddress.port) bound again")
        say("RETIRE OK")
    }

    // MARK: - Helpers

    /// libsrt's last error on this thread, as (code, errno); clears it.
    static func lastError() -> (Int32, Int32) {
        var systemErrno: Int32 = 0
        let code = srt_getlasterror(&systemErrno)
        srt_clearlasterror()
        return (code, systemErrno)
    }

    /// Prints and flushes at once: a crash mid-way must not swallow what was printed before it.
    static func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    static func caller(_ address: SRTAddress, _ streamID: String, from local: SRTAddress? = nil) throws
        -> SRTCallerConfiguration
    {
        try SRTCallerConfiguration(
            host: address.host, port: address.port, streamID: streamID, latency: .milliseconds(40),
            connectTimeout: .seconds(2), bindAddress: local)
    }

    /// Sends one message each way and checks it arrives.
    static func exchange(_ caller: SRTConnection, _ accepted: SRTConnection, _ what: String) async throws {
        try await caller.send(Array("to \(what)".utf8))
        let there = try await TestSupport.within(.seconds(2)) { try await accepted.receive() }
        try await accepted.send(Array("from \(what)".utf8))
        let back = try await TestSupport.within(.seconds(2)) { try await caller.receive() }
        SocketReplacedScenario.check(
            there == Array("to \(what)".utf8) && back == Array("from \(what)".utf8), "data both ways on \(what)")
    }

    /// Sends a message every 50 ms for `duration`; returns how many were sent and how many arrived.
    static func stream(
        from caller: SRTConnection, to accepted: SRTConnection, for duration: Duration
    ) async throws -> (sent: Int, received: Int) {
        let count = Int(duration / .milliseconds(50))
        let received = Mutex(0)
        let receiving = Task {
            while (try? await accepted.receive()) != nil { received.withLock { $0 += 1 } }
        }
        for index in 0..<count {
            try await caller.send(Array("message \(index)".utf8))
            try await Task.sleep(for: .milliseconds(50))
        }
        // The last message is on its way for at most the latency (40 ms).
        _ = await TestSupport.eventually(within: .seconds(1)) { received.withLock { $0 } >= count }
        receiving.cancel()
        return (count, received.withLock { $0 })
    }

    /// The process's CPU share that means a retry loop spins: one that does not wait takes a whole core (1.0).
    /// Backing off, libsrt's threads and the holder's stream took 0.4 to 7 % (7 % in a full suite run on 2 cores).
    static let spinning = 0.25

    /// The share of one core this process used over `window` (every thread: libsrt's, the reactor, the pool);
    /// `getrusage` needs no descriptor.
    static func cpuShare(over window: Duration) async -> Double {
        let cpu = Loopback.GarbageDatagramTests.cpuTime()
        let started = ContinuousClock.now
        try? await Task.sleep(for: window)
        let wall = ContinuousClock.now - started
        return (Loopback.GarbageDatagramTests.cpuTime() - cpu)
            / (Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18)
    }

    static func percent(_ share: Double) -> String {
        String(format: "%.2f %%", share * 100)
    }

    static func failures(in log: CallerTesting.EventLog, from start: Int) -> [SupervisorFailure] {
        log.entries.dropFirst(start).compactMap { entry in
            if case .failed(let failure) = entry.event { failure } else { nil }
        }
    }

    static func delays(in log: CallerTesting.EventLog, from start: Int) -> [Duration] {
        log.entries.dropFirst(start).compactMap { entry in
            if case .backingOff(let delay, _, _) = entry.event { delay } else { nil }
        }
    }

    /// Every failure is an ``SRTError`` with `code` and errno EMFILE, classified as a restart.
    static func checkTransient(_ failures: [SupervisorFailure], code: SRTError.Code, what: String) {
        SocketReplacedScenario.check(failures.count >= 3, "\(what): at least 3 failed attempts, got \(failures.count)")
        for failure in failures {
            let error = failure.error as? SRTError
            SocketReplacedScenario.check(
                error?.code == code && error?.systemErrno == EMFILE && failure.decision == .restart,
                "\(what): EMFILE classified transient: \(failure)")
        }
    }

    /// The delays never shrink, and the last is at least 4 times the first (none of them has jitter).
    static func checkGrowing(_ delays: [Duration], what: String) {
        let growing = zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 }
        SocketReplacedScenario.check(
            delays.count >= 3 && growing && delays.last! >= delays.first! * 4, "\(what): delays grow: \(delays)")
    }
}

/// A server's accepted connections, taken by stream id.
final class Accepted: Sendable {
    private let connections: AsyncStream<SRTConnection>
    private let pending = Mutex<[SRTConnection]>([])

    init(_ server: SRTServer) {
        connections = server.connections
        Task { [self] in
            for await connection in connections { pending.withLock { $0.append(connection) } }
        }
    }

    /// The next accepted connection with `streamID`, within 2 s.
    func next(_ streamID: String) async throws -> SRTConnection {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if let connection = take(streamID) { return connection }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try take(streamID).orThrow("\(streamID) accepted")
    }

    private func take(_ streamID: String) -> SRTConnection? {
        pending.withLock { list in list.firstIndex { $0.streamID == streamID }.map { list.remove(at: $0) } }
    }
}
