import Supervisor
import Testing

@testable import SRTAdapter

/// A user reading ``SRTCallerHealthCheck``'s documentation: what it says a valid check needs, its initializer must
/// enforce.
@Suite("SRTCallerHealthCheck: values its own documentation rules out")
struct SRTCallerHealthCheckAttackTests {
    @Test("a death watch no longer than the peer's keep-alive (1 s) plus the unread limit is refused")
    func deathWatchShorterThanKeepAlivePlusUnreadLimit() {
        // deathWatch's documentation: longer than the keep-alive interval plus unreadLimit, "so that an idle deaf
        // caller has received the keep-alive that shows it deaf". 500 ms cannot: such a watch ends "alive" first.
        #expect(throws: ConfigurationError.self) {
            try SRTCallerHealthCheck(deathWatch: .milliseconds(500), unreadLimit: .milliseconds(250))
        }
        #expect(throws: ConfigurationError.self) {
            try SRTCallerHealthCheck(deathWatch: .milliseconds(1_200), unreadLimit: .milliseconds(250))
        }
        // The documentation's own example stays valid.
        #expect(throws: Never.self) {
            try SRTCallerHealthCheck(deathWatch: .seconds(2), unreadLimit: .milliseconds(400))
        }
    }
}
