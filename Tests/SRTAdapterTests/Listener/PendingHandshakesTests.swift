import CSRT
import Testing

@testable import SRTAdapter

/// The pending-handshake accounting on its own: no libsrt, no clock (instants are passed in).
@Suite("Pending handshakes")
struct PendingHandshakesTests {
    let start = ContinuousClock.now

    @Test("the cap counts open connections and pending handshakes; a settled handshake frees its slot")
    func cap() {
        var pending = PendingHandshakes(maxPerHost: 100)
        let alive: (SRTSOCKET) -> Bool = { _ in false }
        #expect(pending.admit(1, host: "a", open: 2, cap: 4, now: start, isGone: alive) == .admitted)
        #expect(pending.admit(2, host: "b", open: 2, cap: 4, now: start, isGone: alive) == .admitted)
        #expect(pending.admit(3, host: "c", open: 2, cap: 4, now: start, isGone: alive) == .overCap)
        pending.settle(1)
        #expect(pending.admit(3, host: "c", open: 3, cap: 4, now: start, isGone: alive) == .overCap)
        #expect(pending.admit(3, host: "c", open: 2, cap: 4, now: start, isGone: alive) == .admitted)
    }

    @Test("handshakes libsrt dropped are forgotten before a refusal, so they never hold a slot")
    func goneFreeSlots() {
        var pending = PendingHandshakes(maxPerHost: 100)
        var gone: Set<SRTSOCKET> = []
        for socket in SRTSOCKET(1)...3 {
            #expect(
                pending.admit(socket, host: "a", open: 0, cap: 3, now: start, isGone: { gone.contains($0) })
                    == .admitted)
            // libsrt rejects each one's passphrase after the callback.
            gone.insert(socket)
        }
        #expect(pending.count == 3)
        #expect(pending.admit(4, host: "a", open: 0, cap: 3, now: start, isGone: { gone.contains($0) }) == .admitted)
        #expect(pending.count == 1)
        #expect(pending.count(from: "a") == 1)
    }

    @Test("one host holds at most its share; other hosts keep theirs")
    func hostShare() {
        var pending = PendingHandshakes(maxPerHost: 2)
        let alive: (SRTSOCKET) -> Bool = { _ in false }
        #expect(pending.admit(1, host: "a", open: 0, cap: 100, now: start, isGone: alive) == .admitted)
        #expect(pending.admit(2, host: "a", open: 0, cap: 100, now: start, isGone: alive) == .admitted)
        #expect(pending.admit(3, host: "a", open: 0, cap: 100, now: start, isGone: alive) == .overHostShare)
        #expect(pending.admit(4, host: "b", open: 0, cap: 100, now: start, isGone: alive) == .admitted)
        pending.settle(2)
        #expect(pending.admit(5, host: "a", open: 0, cap: 100, now: start, isGone: alive) == .admitted)
        #expect(pending.count(from: "a") == 2)
        #expect(pending.count(from: "b") == 1)
    }

    @Test("an admission past its lifetime is dropped even when libsrt still calls it pending")
    func lifetime() {
        var pending = PendingHandshakes(maxPerHost: 1)
        let alive: (SRTSOCKET) -> Bool = { _ in false }
        #expect(pending.admit(1, host: "a", open: 0, cap: 10, now: start, isGone: alive) == .admitted)
        let almost = start + PendingHandshakes.lifetime - .milliseconds(1)
        #expect(pending.admit(2, host: "a", open: 0, cap: 10, now: almost, isGone: alive) == .overHostShare)
        let later = start + PendingHandshakes.lifetime
        #expect(pending.admit(2, host: "a", open: 0, cap: 10, now: later, isGone: alive) == .admitted)
        #expect(pending.count == 1)
    }

    @Test("a socket id admitted again counts once")
    func reusedSocket() {
        var pending = PendingHandshakes(maxPerHost: 5)
        let alive: (SRTSOCKET) -> Bool = { _ in false }
        #expect(pending.admit(7, host: "a", open: 0, cap: 10, now: start, isGone: alive) == .admitted)
        #expect(pending.admit(7, host: "a", open: 0, cap: 10, now: start, isGone: alive) == .admitted)
        #expect(pending.count == 1)
        #expect(pending.count(from: "a") == 1)
    }
}
