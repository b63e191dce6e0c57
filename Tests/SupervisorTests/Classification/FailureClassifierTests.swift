import Supervisor
import Testing

private struct Refused: Error {}
private struct Denied: Error {}
private struct RateLimited: ClassifiableError {
    var retryAfter: Duration
    var failureDecision: FailureDecision? { .restart(after: retryAfter) }
}
private struct Undecided: ClassifiableError {
    var failureDecision: FailureDecision? { nil }
}

@Suite("Failure classification")
struct FailureClassifierTests {
    @Test("the default: self-classifying errors decide, anything else restarts, cancellation included")
    func defaultClassifier() {
        let classifier = FailureClassifier.default
        #expect(classifier.classify(CancellationError()) == .restart)
        #expect(FailureClassifier.firstMatch([.cancellation, .default]).classify(CancellationError()) == .stop)
        #expect(classifier.classify(Refused()) == .restart)
        #expect(classifier.classify(RateLimited(retryAfter: .seconds(3))) == .restart(after: .seconds(3)))
        #expect(classifier.classify(Undecided()) == .restart)
    }

    @Test("first match wins, in order; an unmatched error falls back to restart")
    func firstMatch() {
        let classifier = FailureClassifier.firstMatch([
            .type(Denied.self, .giveUp),
            .matching({ $0 is Denied || $0 is Refused }, .stop),
        ])
        #expect(classifier.classify(Denied()) == .giveUp)
        #expect(classifier.classify(Refused()) == .stop)
        #expect(classifier.decision(for: CancellationError()) == nil)
        #expect(classifier.classify(CancellationError()) == .restart)
    }

    @Test("a type classifier can inspect the error and abstain")
    func typeWithClosure() {
        let classifier = FailureClassifier.type(RateLimited.self) { error in
            error.retryAfter > .seconds(60) ? .giveUp : nil
        }.orElse(.default)
        #expect(classifier.classify(RateLimited(retryAfter: .seconds(120))) == .giveUp)
        #expect(classifier.classify(RateLimited(retryAfter: .seconds(1))) == .restart(after: .seconds(1)))
    }

    @Test("decisions: hints, labels, and negative hints clamped to zero")
    func decisions() {
        #expect(FailureDecision.restart.isRestart)
        #expect(FailureDecision.restart(after: .seconds(2)).isRestart)
        #expect(!FailureDecision.giveUp.isRestart)
        #expect(!FailureDecision.stop.isRestart)
        #expect(FailureDecision.restart(after: .seconds(2)).hint == .seconds(2))
        #expect(FailureDecision.restart.hint == nil)
        #expect(FailureDecision.restart(after: .seconds(-2)) == .restart(after: .zero))
        #expect(
            [FailureDecision.restart, .restart(after: .seconds(1)), .restartNow, .giveUp, .stop].map(\.label)
                == ["restart", "restart-after", "restart-now", "give-up", "stop"]
        )
        #expect(FailureDecision.restart(after: .seconds(1)) != .restart)
    }
}
