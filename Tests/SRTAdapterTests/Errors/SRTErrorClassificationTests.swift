import CSRT
import Dispatch
import Foundation
import SRTTestSupport
import Supervisor
import Testing

@testable import SRTAdapter

/// Every row of the classification table in `SRTError+Classification.swift`, produced with real libsrt calls on
/// loopback wherever loopback can produce it; the rest are built by hand and say why.
@Suite("SRTError classification")
struct SRTErrorClassificationTests {
    init() { SRTRuntime.ensureStarted() }

    // MARK: - helpers over the raw C API

    private func address(_ host: String, _ port: Int) -> SRTAddress { SRTAddress(validHost: host, port: port) }

    /// A raw libsrt listener made with srt_bind (not acquire), as most applications do.
    private func rawListener(port: Int, host: String = "127.0.0.1") throws -> SRTSOCKET {
        let socket = srt_create_socket()
        let bound = address(host, port).withSocketAddress { srt_bind(socket, $0, $1) }
        guard bound == 0, srt_listen(socket, 8) == 0 else {
            let error = SRTError.last(.listen)
            srt_close(socket)
            throw error
        }
        return socket
    }

    /// A free UDP port on 127.0.0.1 (bound then released).
    private func freePort() -> Int { (try? FreePort.loopback()) ?? 0 }

    // MARK: - 1003: transient system errnos

    @Test("bind to an address on no interface: 1003 EADDNOTAVAIL, restart")
    func bindForeignAddress() throws {
        // 192.0.2.1 is TEST-NET-1: on no interface here; binding sends nothing.
        let socket = srt_create_socket()
        defer { srt_close(socket) }
        let result = address("192.0.2.1", 9).withSocketAddress { srt_bind(socket, $0, $1) }
        let error = SRTError.last(.bind)
        #expect(result == SRT_ERROR)
        #expect(error.code == .socketFailure)
        #expect(error.systemErrno == EADDRNOTAVAIL)
        #expect(error.failureDecision == .restart)
        #expect(!error.isPerConnection)

        // The adapter's own UDP bind reports the same code, errno and decision.
        let adapterError = #expect(throws: SRTError.self) {
            try SRTListenSocket.open(try SRTListenerConfiguration(host: "192.0.2.1", port: 0))
        }
        #expect(adapterError?.code == .socketFailure)
        #expect(adapterError?.systemErrno == EADDRNOTAVAIL)
        #expect(adapterError?.failureDecision == .restart)
    }

    @Test("port held by a plain UDP socket: 1003 EADDRINUSE, restart")
    func portHeldByPlainSocket() throws {
        var bindErrno: Int32 = 0
        let holder = address("127.0.0.1", 0).withSocketAddress { csrt_udp_bind($0, $1, &bindErrno) }
        #expect(holder >= 0)
        defer { close(holder) }
        let port = Int(csrt_local_port(holder))
        let socket = srt_create_socket()
        defer { srt_close(socket) }
        let result = address("127.0.0.1", port).withSocketAddress { srt_bind(socket, $0, $1) }
        let error = SRTError.last(.bind)
        #expect(result == SRT_ERROR)
        #expect(error.code == .socketFailure)
        #expect(error.systemErrno == EADDRINUSE)
        #expect(error.failureDecision == .restart)
        #expect("\(error)".contains("errno 98"))

        let adapterError = #expect(throws: SRTError.self) {
            try SRTListenSocket.open(try SRTListenerConfiguration(host: "127.0.0.1", port: port))
        }
        #expect(adapterError?.systemErrno == EADDRINUSE)
        #expect(adapterError?.failureDecision == .restart)
    }

    @Test(
        "other transient errnos of 1003 restart (not producible on loopback as root)",
        arguments: [ENODEV, ENETDOWN, ENETUNREACH, EHOSTUNREACH, ENOBUFS, ENOMEM, EMFILE, ENFILE, EAGAIN, EINTR]
    )
    func transientErrnos(errno: Int32) {
        let error = SRTError(code: .socketFailure, systemErrno: errno, operation: .bind)
        #expect(error.failureDecision == .restart)
    }

    @Test(
        "permanent errnos of 1003 give up (EACCES needs a non-root user; the rest a misuse)",
        arguments: [EACCES, EPERM, EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT, EBADF, ENOTSOCK]
    )
    func permanentErrnos(errno: Int32) {
        let error = SRTError(code: .socketFailure, systemErrno: errno, operation: .bind)
        #expect(error.failureDecision == .giveUp)
    }

    @Test("system resources (1000, 3000-3003) restart; a dead receive thread restarts at once")
    func resources() {
        for code in [SRTError.Code.connectionSetup, .resource, .thread, .noBuffer, .systemObject] {
            #expect(SRTError(code: code, operation: .bind).failureDecision == .restart, "\(code)")
        }
        // A deaf listener is retired and bound anew at once, whatever the backoff has grown to.
        #expect(SRTError(code: .receiveThreadDied, operation: .probe).failureDecision == .restartNow)
    }

    // MARK: - configuration and API misuse: give up

    @Test("same port, different SRT settings: 5015, give up")
    func bindConflict() throws {
        let port = freePort()
        let listener = try rawListener(port: port)
        defer { srt_close(listener) }
        let socket = srt_create_socket()
        defer { srt_close(socket) }
        _ = csrt_set_int(socket, SRTO_UDP_RCVBUF, 1024 * 1024)
        let result = address("127.0.0.1", port).withSocketAddress { srt_bind(socket, $0, $1) }
        let error = SRTError.last(.bind)
        #expect(result == SRT_ERROR)
        #expect(error.code == .bindConflict)
        #expect(error.failureDecision == .giveUp)
    }

    @Test("a second listener on the port: 5011, give up")
    func duplicateListener() throws {
        let port = freePort()
        let first = try rawListener(port: port)
        defer { srt_close(first) }
        let error = #expect(throws: SRTError.self) { _ = try rawListener(port: port) }
        #expect(error?.code == .duplicateListener)
        #expect(error?.failureDecision == .giveUp)
    }

    @Test("listen before bind 5005, accept on a non-listener 5006, bind twice 5000, backlog 0 5003: give up")
    func apiMisuse() {
        let socket = srt_create_socket()
        defer { srt_close(socket) }
        #expect(srt_listen(socket, 5) == SRT_ERROR)
        let unbound = SRTError.last(.listen)
        #expect(unbound.code == .unboundSocket)
        #expect(srt_accept(socket, nil, nil) == SRT_INVALID_SOCK)
        let notListening = SRTError.last(.accept)
        #expect(notListening.code == .notListening)
        let port = freePort()
        _ = address("127.0.0.1", port).withSocketAddress { srt_bind(socket, $0, $1) }
        #expect(address("127.0.0.1", port).withSocketAddress { srt_bind(socket, $0, $1) } == SRT_ERROR)
        let twice = SRTError.last(.bind)
        #expect(twice.code == .invalidOperation)
        #expect(srt_listen(socket, 0) == SRT_ERROR)
        let backlog = SRTError.last(.listen)
        #expect(backlog.code == .invalidParameter)
        for error in [unbound, notListening, twice, backlog] {
            #expect(error.failureDecision == .giveUp, "\(error)")
            // Not a system error: the thread's errno is stale and must not be reported.
            #expect(error.systemErrno == 0)
        }
    }

    @Test("a message larger than the payload size: libsrt says 5009, the adapter 5012 before calling it; give up")
    func messageTooLarge() async throws {
        let listener = try SRTListenSocket.open(TestSupport.loopback())
        defer { listener.close() }
        let (caller, accepted) = try await TestSupport.pair(listener)
        defer {
            caller.close()
            accepted.close()
        }
        let error = await #expect(throws: SRTError.self) { try await caller.send([UInt8](repeating: 1, count: 1400)) }
        #expect(error?.code == .messageTooLarge)
        #expect(error?.failureDecision == .giveUp)
        let message = [CChar](repeating: 1, count: 1400)
        #expect(srt_sendmsg2(caller.socket, message, 1400, nil) == SRT_ERROR)
        let raw = SRTError.last(.send)
        #expect(raw.code == .invalidMessageAPI)
        #expect(raw.failureDecision == .giveUp)
    }

    @Test("epoll: bad container id 5013 gives up, empty container 5014 stops, timeout 6003 is no error")
    func epoll() {
        var events = [SRT_EPOLL_EVENT](repeating: SRT_EPOLL_EVENT(), count: 2)
        #expect(srt_epoll_uwait(123_456, &events, 2, 10) == SRT_ERROR)
        let invalid = SRTError.last(.epoll)
        #expect(invalid.code == .invalidPollID)
        #expect(invalid.failureDecision == .giveUp)

        let empty = srt_epoll_create()
        defer { srt_epoll_release(empty) }
        #expect(srt_epoll_uwait(empty, &events, 2, 10) == SRT_ERROR)
        let emptyError = SRTError.last(.epoll)
        #expect(emptyError.code == .pollEmpty)
        #expect(emptyError.failureDecision == .stop)

        let port = freePort()
        guard let listener = try? rawListener(port: port) else {
            Issue.record("no listener")
            return
        }
        defer { srt_close(listener) }
        var flags = csrt_epoll_in()
        _ = srt_epoll_add_usock(empty, listener, &flags)
        var readable = [SRTSOCKET](repeating: 0, count: 2)
        var count: Int32 = 2
        #expect(srt_epoll_wait(empty, &readable, &count, nil, nil, 20, nil, nil, nil, nil) == SRT_ERROR)
        let timeout = SRTError.last(.epoll)
        #expect(timeout.code == .timeout)
        #expect(timeout.failureDecision == nil)
        #expect(timeout.isWouldBlock)
        // uwait reports the same timeout as 0 events, not as an error.
        #expect(srt_epoll_uwait(empty, &events, 2, 20) == 0)
    }

    // MARK: - shutdown: stop

    @Test("non-blocking accept: 6002 with nothing pending is no error; after close it stops")
    func acceptAmbiguity() throws {
        let listener = try rawListener(port: freePort())
        _ = csrt_set_bool(listener, SRTO_RCVSYN, 0)
        #expect(srt_accept(listener, nil, nil) == SRT_INVALID_SOCK)
        let pending = SRTError.last(.accept, socket: listener)
        #expect(pending.code == .asyncReceive)
        #expect(pending.socketState == .listening)
        #expect(pending.failureDecision == nil)
        #expect(pending.isWouldBlock)

        srt_close(listener)
        #expect(srt_accept(listener, nil, nil) == SRT_INVALID_SOCK)
        let closed = SRTError.last(.accept, socket: listener)
        // libsrt says 6002 or 5004 here depending on how far the close went; both mean stop.
        #expect(closed.code == .asyncReceive || closed.code == .invalidSocket)
        #expect(closed.failureDecision == .stop, "\(closed)")
    }

    @Test("blocking accept while the listener is closed: 1005, stop")
    func blockingAcceptClosed() async throws {
        let listener = try rawListener(port: freePort())
        // The blocking call runs on a Dispatch thread, never on the Swift pool.
        let error: SRTError = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                _ = srt_accept(listener, nil, nil)
                continuation.resume(returning: SRTError.last(.accept))
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) { srt_close(listener) }
        }
        #expect(error.code == .socketClosed)
        #expect(error.failureDecision == .stop)
    }

    @Test("a socket id that does not exist: 5004, stop")
    func invalidSocket() {
        #expect(srt_accept(987_654, nil, nil) == SRT_INVALID_SOCK)
        let error = SRTError.last(.accept)
        #expect(error.code == .invalidSocket)
        #expect(error.failureDecision == .stop)
    }

    @Test("our own close: accept and receive end with closedLocally, stop")
    func closedLocally() async throws {
        let listener = try SRTListenSocket.open(TestSupport.loopback())
        listener.close()
        let error = await #expect(throws: SRTError.self) { _ = try await listener.accept() }
        #expect(error?.code == .closedLocally)
        #expect(error?.failureDecision == .stop)
    }

    // MARK: - per connection

    @Test("connect to nothing: 1001 with reject reason 16, per connection")
    func connectToNothing() async throws {
        let configuration = try SRTCallerConfiguration(
            host: "127.0.0.1", port: freePort(), connectTimeout: .milliseconds(300))
        let error = await #expect(throws: SRTError.self) { _ = try await SRTConnection.connect(configuration) }
        #expect(error?.code == .noServer)
        #expect(error?.rejectReason == Int32(SRT_REJ_TIMEOUT.rawValue))
        #expect(error?.isPerConnection == true)
        #expect(error?.failureDecision == .restart)
    }

    @Test("rejected by the access control: 1002 with its reason, per connection")
    func rejected() async throws {
        let listener = try SRTListenSocket.open(
            TestSupport.loopback(
                accessControl: try SRTAccessControl(deadline: TestSupport.accessDeadline) { _ in .reject(.forbidden) }))
        defer { listener.close() }
        let error = await #expect(throws: SRTError.self) {
            _ = try await SRTConnection.connect(TestSupport.caller(to: listener, streamID: "nope"))
        }
        #expect(error?.code == .connectionRejected)
        #expect(error?.rejectReason == 1403)
        #expect(error?.isPerConnection == true)
    }

    @Test("wrong passphrase: rejected, per connection")
    func wrongPassphrase() async throws {
        let listener = try SRTListenSocket.open(TestSupport.loopback(passphrase: SRTPassphrase("right secret 123")))
        defer { listener.close() }
        let error = await #expect(throws: SRTError.self) {
            _ = try await SRTConnection.connect(
                TestSupport.caller(to: listener, passphrase: SRTPassphrase("wrong secret 456")))
        }
        #expect(error?.isPerConnection == true)
        #expect(error?.rejectReason == Int32(SRT_REJ_BADSECRET.rawValue))
    }

    @Test("peer closed: receive fails with a per-connection error")
    func connectionLost() async throws {
        let listener = try SRTListenSocket.open(TestSupport.loopback())
        defer { listener.close() }
        let (caller, accepted) = try await TestSupport.pair(listener)
        defer { accepted.close() }
        caller.close()
        let error = await #expect(throws: SRTError.self) {
            _ = try await TestSupport.within(.seconds(3)) { try await accepted.receive() }
        }
        #expect(error?.isPerConnection == true, "\(String(describing: error))")
        #expect(error?.failureDecision == .restart)
    }

    @Test("the remaining per-connection codes (2000, 1004, 7000) restart a caller, never a listener")
    func otherPerConnection() {
        for code in [SRTError.Code.connectionFailure, .securityFailure, .peerError, .noConnection] {
            let error = SRTError(code: code, operation: .receive)
            #expect(error.isPerConnection, "\(code)")
            #expect(error.failureDecision == .restart, "\(code)")
        }
    }

    @Test("would-block codes (6000, 6001, 6004) are no errors; unknown codes have no opinion")
    func noOpinion() {
        for code in [SRTError.Code.asyncFailure, .asyncSend, .congestion] {
            #expect(SRTError(code: code, operation: .send).failureDecision == nil, "\(code)")
        }
        #expect(SRTError(code: .unknown, operation: .send).failureDecision == nil)
        #expect(SRTError(code: Code(rawValue: 12_345), operation: .send).failureDecision == nil)
        // No opinion → the default classifier restarts.
        #expect(FailureClassifier.default.classify(SRTError(code: .unknown, operation: .send)) == .restart)
    }

    @Test("the description carries the operation, the SRT code and the errno")
    func description() {
        let error = SRTError(code: .socketFailure, systemErrno: EADDRINUSE, operation: .bind, message: "bind failed")
        #expect("\(error)" == "srt_bind failed: SRT 1003 (bind failed), errno 98 (Address already in use)")
        #expect(FailureClassifier.default.classify(error) == .restart)
    }
}

private typealias Code = SRTError.Code
