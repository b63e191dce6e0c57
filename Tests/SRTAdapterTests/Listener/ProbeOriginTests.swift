import CSRT
import Foundation
import Testing

@testable import SRTAdapter

extension Loopback {
    /// The probes of loopback listeners share one multiplexer per family (``ProbeOrigin``): a probe leaves libsrt's
    /// garbage collector no multiplexer to free while it holds libsrt's global lock, and a shared one that died is
    /// replaced rather than taken for the listener's death.
    @Suite("Probes from one shared multiplexer")
    struct ProbeOriginTests {
        @Test(
            "40 probes start at most two receive threads; a crowded port or a dead origin is replaced, a dead listener not"
        )
        func probesShareOneMultiplexer() async throws {
            // In a child process: the receive threads counted are the whole process's, and the origin killed here
            // leaks its multiplexer for the life of the process.
            let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
                await TestSupport.runChild(within: .seconds(60), ProbeOriginScenario.run)
            }
            TestSupport.expectChild(result, marker: "PROBE ORIGIN")
        }
    }
}

enum ProbeOriginScenario {
    static func run() async throws {
        let check = SocketReplacedScenario.check
        let v4 = try SRTListenSocket.open(TestSupport.loopback())
        let v6 = try SRTListenSocket.open(TestSupport.loopback(ipv6: true))
        defer {
            v4.close()
            v6.close()
        }
        let before = try ReceiveThreads.snapshot().orThrow("libsrt's receive threads listed")
        for round in 0..<20 {
            check(await v4.probe().isAlive, "IPv4 probe \(round) answered")
            check(await v6.probe().isAlive, "IPv6 probe \(round) answered")
        }
        // A caller of its own would leave 40 receive threads here for about a second, until libsrt's collector.
        let started = try ReceiveThreads.snapshot().orThrow("libsrt's receive threads listed").subtracting(before)
        print("PROBE ORIGIN 40 probes started \(started.count) receive threads")
        check(started.count <= 2, "one multiplexer per family, \(started.count) receive threads started")

        // A wildcard listener of the other family on the origin's port number (the kernel lets `[::]` share it with
        // 127.0.0.1): libsrt then refuses a bind to the origin's port. The probe still answers, and the origin moves.
        let crowded = try ProbeOrigin.ipv4.boundSocket.orThrow("the IPv4 origin")
        let wildcard = try SRTListenSocket.open(
            SRTListenerConfiguration(host: "::", port: crowded.address.port, latency: .milliseconds(40)))
        defer { wildcard.close() }
        check(await v4.probe().isAlive, "a live listener answers beside a [::] listener on the origin's port")
        check(await v4.probe().isAlive, "and the next one, through a new origin")
        let moved = try ProbeOrigin.ipv4.boundSocket.orThrow("a new IPv4 origin")
        check(moved.address.port != crowded.address.port, "the origin moved off port \(crowded.address.port)")

        // A dead listener probed through a live origin: not alive, and the origin kept.
        let origin = try ProbeOrigin.ipv4.boundSocket.orThrow("the IPv4 origin")
        let deaf = try SRTListenSocket.open(TestSupport.loopback())
        defer { deaf.close() }
        check(csrt_retire_fd(deaf.udpDescriptor) == 0, "/dev/null over the deaf listener's socket")
        check(await !deaf.probe(timeout: .milliseconds(200)).isAlive, "the deaf listener does not answer")
        check(ProbeOrigin.ipv4.boundSocket?.address == origin.address, "a listener's death leaves the origin")

        // The origin itself dies (its socket replaced by /dev/null): the next probe binds another and answers.
        check(csrt_retire_fd(origin.descriptor) == 0, "/dev/null over the origin's socket")
        check(await v4.probe().isAlive, "the live listener answers through a new origin")
        let replaced = try ProbeOrigin.ipv4.boundSocket.orThrow("a new IPv4 origin")
        check(replaced.address != origin.address, "a new origin: \(replaced.address), was \(origin.address)")
        print("PROBE ORIGIN OK")
    }
}
