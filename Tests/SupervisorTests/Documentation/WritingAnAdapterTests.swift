import Glibc
import Logging
import Supervisor
import SupervisorTestKit
import Synchronization
import Testing

/// A plain UDP socket that the test controls: it sends datagrams, or holds a port.
private struct TestSocket: ~Copyable {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)

    func address(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Binds to `port` (0: any), returning the port bound.
    func bind(port: UInt16) -> UInt16 {
        var address = address(port: port)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                Glibc.bind(fd, pointer, length) == 0 ? getsockname(fd, pointer, &length) : -1
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    func send(_ bytes: [UInt8], to port: UInt16) {
        var address = address(port: port)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    deinit { close(fd) }
}

@Suite("The guide's UDP receiver", .timeLimit(.minutes(1)))
struct WritingAnAdapterTests {
    @Test("a port held by another socket is retried with backoff, and datagrams flow once it is free")
    func portHeldThenFreed() async throws {
        var holder: TestSocket? = TestSocket()
        let port = holder!.bind(port: 0)  // an ephemeral port, now held
        let received = Mutex<[[UInt8]]>([])
        let supervisor = ResourceSupervisor(
            UDPReceiver(port: port) { datagram in received.withLock { $0.append(datagram) } },
            name: "udp",
            policy: try RestartPolicy(backoff: .constant(.milliseconds(20)).jitter(.none)),
            logger: Logger(label: "udp", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let recorder = EventRecorder(supervisor)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        // Bind fails with EADDRINUSE: classified transient, so the supervisor backs off and tries again.
        let failure = await recorder.next { if case .failed = $0 { true } else { false } }
        guard case .failed(let report)? = failure, let error = report.error as? SocketError else {
            Issue.record("expected a socket failure, got \(String(describing: failure))")
            return
        }
        #expect(error.errno == EADDRINUSE && report.decision == .restart && report.phase == .start)

        holder = nil  // free the port
        _ = await recorder.next { if case .ready = $0 { true } else { false } }
        let sender = TestSocket()
        // Bounded: a datagram every 10 ms for at most 2 s, until one arrives.
        for _ in 0..<200 where received.withLock({ $0.isEmpty }) {
            sender.send([1, 2, 3], to: port)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.withLock { $0.first } == [1, 2, 3])
        task.cancel()
        try await task.value
    }

    @Test("errno decides: address and resource shortages restart, permission and invalid arguments give up")
    func errnoClassification() {
        #expect(SocketError(operation: "bind", errno: EACCES).failureDecision == .giveUp)
        #expect(SocketError(operation: "bind", errno: EADDRNOTAVAIL).failureDecision == .restart)
        #expect(SocketError(operation: "recv", errno: ECONNRESET).failureDecision == nil)
    }
}
