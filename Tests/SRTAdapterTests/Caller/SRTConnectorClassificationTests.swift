import CSRT
import Supervisor
import Testing

@testable import SRTAdapter

/// Every row of the caller's table in `SRTConnector+Classification.swift`, with hand-built errors; the loopback
/// suites produce the important ones with real libsrt handshakes.
@Suite("SRTConnector classification")
struct SRTConnectorClassificationTests {
    private func rejected(_ reason: Int32) -> SRTError {
        SRTError(code: .connectionRejected, operation: .connect, rejectReason: reason, socketState: .broken)
    }

    @Test("nobody answering and timeouts are transient")
    func transientConnectFailures() {
        let noServer = SRTError(
            code: .noServer, operation: .connect, rejectReason: Int32(SRT_REJ_TIMEOUT.rawValue))
        #expect(SRTConnector.decision(for: noServer) == .restart)
        #expect(SRTConnector.decision(for: SRTError(code: .timeout, operation: .connect)) == .restart)
        #expect(SRTConnector.classifier.classify(noServer) == .restart)
    }

    @Test(
        "rejections the next handshake would get again are fatal",
        arguments: [
            Int32(SRT_REJ_BADSECRET.rawValue), Int32(SRT_REJ_UNSECURE.rawValue), Int32(SRT_REJ_VERSION.rawValue),
            Int32(SRT_REJ_MESSAGEAPI.rawValue), Int32(SRT_REJ_CONGESTION.rawValue), Int32(SRT_REJ_FILTER.rawValue),
            Int32(SRT_REJ_GROUP.rawValue), 1400, 1401, 1403,
        ])
    func fatalRejections(reason: Int32) {
        #expect(SRTConnector.decision(for: rejected(reason)) == .giveUp)
        #expect(SRTConnector.classifier.classify(rejected(reason)) == .giveUp)
        // SRTError's own table keeps them per connection (a listener never restarts for them).
        #expect(rejected(reason).failureDecision == .restart)
    }

    @Test(
        "rejections that may pass are transient: busy, closing, overloaded, not there yet, application codes",
        arguments: [
            Int32(SRT_REJ_UNKNOWN.rawValue), Int32(SRT_REJ_SYSTEM.rawValue), Int32(SRT_REJ_PEER.rawValue),
            Int32(SRT_REJ_RESOURCE.rawValue), Int32(SRT_REJ_ROGUE.rawValue), Int32(SRT_REJ_BACKLOG.rawValue),
            Int32(SRT_REJ_IPE.rawValue), Int32(SRT_REJ_CLOSE.rawValue), Int32(SRT_REJ_RDVCOOKIE.rawValue),
            1402, 1404, 1409, 1503, 2000, 2998,
        ])
    func transientRejections(reason: Int32) {
        #expect(SRTConnector.decision(for: rejected(reason)) == .restart)
    }

    @Test("a rejection without a reason is transient")
    func rejectionWithoutReason() {
        #expect(SRTConnector.decision(for: SRTError(code: .connectionRejected, operation: .connect)) == .restart)
    }

    @Test("a security failure (1004) is fatal")
    func securityFailure() {
        #expect(SRTConnector.decision(for: SRTError(code: .securityFailure, operation: .connect)) == .giveUp)
    }

    @Test("a connection that broke, or that the application closed, reconnects")
    func endedConnections() {
        for code in [SRTError.Code.connectionFailure, .connectionLost, .noConnection, .peerError, .closedLocally] {
            #expect(SRTConnector.decision(for: SRTError(code: code, operation: .watch)) == .restart, "\(code)")
        }
        // For a listener, the same closedLocally is a shutdown.
        #expect(SRTError(code: .closedLocally, operation: .watch).failureDecision == .stop)
    }

    @Test("everything else follows SRTError's table, then the default classifier")
    func fallBack() {
        let denied = SRTError(code: .socketFailure, systemErrno: EACCES, operation: .bind)
        #expect(SRTConnector.classifier.classify(denied) == .giveUp)
        let busy = SRTError(code: .socketFailure, systemErrno: EADDRINUSE, operation: .bind)
        #expect(SRTConnector.classifier.classify(busy) == .restart)
        #expect(SRTConnector.classifier.classify(SRTError(code: .invalidParameter, operation: .setOption)) == .giveUp)
        #expect(SRTConnector.classifier.classify(SRTError(code: .unknown, operation: .connect)) == .restart)
        #expect(SRTConnector.classifier.classify(CancellationError()) == .restart)
        struct Other: Error {}
        #expect(SRTConnector.classifier.classify(Other()) == .restart)
    }

    @Test("the default policy uses the caller's table and full jitter")
    func defaultPolicy() {
        #expect(SRTCaller.defaultPolicy.backoff.jitter == .full)
        #expect(SRTCaller.defaultPolicy.classifier.classify(rejected(1403)) == .giveUp)
    }
}
