import CSRT
import Foundation
import Synchronization
import Testing

@testable import SRTAdapter

extension Loopback {
    /// ``SRTAccessControl/immediate(_:)``: the decision runs on libsrt's receive thread, with no thread of its own
    /// to wait for, so a starved process cannot turn a caller away with 1503.
    @Suite("SRTServer: an access control that answers from memory")
    struct ImmediateAccessControlTests {
        @Test("decided on libsrt's receive thread: no worker thread, reasons reach the caller, nothing timed out")
        func decidedOnTheReceiveThread() async throws {
            let threads = Mutex<Set<String>>([])
            let closed = Atomic<Bool>(false)
            let access = SRTAccessControl.immediate { request in
                let name = AccessControlWorkerTests.threadName(csrt_thread_id()) ?? "?"
                threads.withLock { _ = $0.insert(name) }
                if request.streamID == "closed" || closed.load(ordering: .relaxed) { return .reject(.unavailable) }
                return request.streamID.hasPrefix("play/") ? .reject(.notFound) : .accept
            }
            #expect(access.runsOnReceiveThread)
            let listener = try SRTListenSocket.open(TestSupport.loopback(accessControl: access))
            defer { listener.close() }
            #expect(listener.accessWorker == nil, "an immediate access control starts no thread")
            let address = listener.localAddress

            let accepted = try await SRTAccessDeadlineTests.attempt(address, "publish/cam1")
            let connection = try #require(accepted.connection, "rejected with \(String(describing: accepted.reason))")
            connection.close()
            #expect(try await SRTAccessDeadlineTests.attempt(address, "play/other").reason == 1404)
            closed.store(true, ordering: .relaxed)
            #expect(try await SRTAccessDeadlineTests.attempt(address, "publish/cam2").reason == 1503)

            // Every decision on a receive thread of libsrt's (SRT:RcvQ:w<N>), none on a thread of the adapter's.
            let seen = threads.withLock { $0 }
            #expect(!seen.isEmpty && seen.allSatisfy { $0.hasPrefix("SRT:RcvQ") }, "\(seen)")
            #expect(access.statistics.timedOut == 0 && access.statistics.answeredInTime >= 3, "\(access.statistics)")
        }
    }
}
