import CSRT
import Supervisor
import Synchronization
import Testing

@testable import SRTAdapter

#if canImport(Glibc)
    import Glibc
#endif

extension Loopback {
    /// A process out of threads (`pthread_create` fails with `EAGAIN`) when the reactor's thread is first needed.
    @Suite("Reactor: no thread to be had")
    struct SRTReactorThreadTests {
        /// Fails the first `failures` thread starts as `pthread_create` does when the process is out of threads,
        /// then makes real ones.
        static func starter(failing failures: Int) -> ReactorThreadStarter {
            let remaining = Atomic(failures)
            return ReactorThreadStarter { body in
                if remaining.subtract(1, ordering: .relaxed).newValue >= 0 { return EAGAIN }
                return ReactorThreadStarter.posix.start(body)
            }
        }

        @Test("opening a listener then fails with a typed, restart-class error; the next open makes the thread")
        func listenerOpenFailsCleanly() async throws {
            let reactor = SRTReactor(threadStarter: Self.starter(failing: 1))
            defer { reactor.stop() }
            let configuration = try SRTListenerConfiguration(host: "127.0.0.1", port: 0)
            let error = #expect(throws: SRTError.self) {
                _ = try SRTListenSocket.open(configuration, reactor: reactor)
            }
            #expect(error?.code == .thread && error?.systemErrno == EAGAIN && error?.operation == .reactorThread)
            #expect(error?.failureDecision == .restart)

            // The next registration makes the thread: a caller connects and is accepted, so the reactor runs.
            let listener = try SRTListenSocket.open(configuration, reactor: reactor)
            defer { listener.close() }
            let caller = try SRTCallerConfiguration(
                host: "127.0.0.1", port: listener.localAddress.port, streamID: "thread", connectTimeout: .seconds(3))
            async let accepted = listener.accept()
            let connection = try await SRTConnection.connect(caller, reactor: reactor)
            let peer = try await accepted
            connection.close()
            peer.close()
        }

        @Test("a failed first registration leaves nothing registered; the reactor stops cleanly")
        func nothingLeftBehind() async throws {
            let reactor = SRTReactor(threadStarter: Self.starter(failing: 2))
            let socket = srt_create_socket()
            defer { srt_close(socket) }
            for _ in 0..<2 {
                #expect(throws: SRTError.self) { try reactor.register(socket, for: .read) }
            }
            #expect(reactor.waiterCount == 0)
            // Waiting on a socket that is not registered returns at once rather than hanging on a missing thread.
            try await reactor.wait(for: .read, on: socket)
            reactor.stop()
            #expect(reactor.isStopped)
        }
    }
}
