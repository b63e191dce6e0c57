import Testing

@testable import srt_relay

/// One reader's queue, on instants the test chooses: where a reader joins, what it drops when behind, and when it is
/// ended as too slow.
@Suite("srt-relay reader queues")
struct ReaderQueueTests {
    static let limits = ReaderQueue.Limits(maxBytes: 10 * 1316, slowLimit: .seconds(5))
    let start = ContinuousClock.now

    /// 7 packets, the first of which starts a program association table when `pat` is set.
    static func message(_ tag: UInt8, pat: Bool = false) -> [UInt8] {
        var bytes = PacketAlignerTests.packets(7)
        for offset in stride(from: 0, to: bytes.count, by: 188) { bytes[offset + 4] = tag }
        if pat {
            bytes[1] = 0x40
            bytes[2] = 0
        }
        return bytes
    }

    @Test("a reader that joins mid-stream starts at the next program association table, cut at its packet")
    func joinsAtTable() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        queue.append([Self.message(1), Self.message(2)], at: start)
        var withTable = Self.message(3)
        // The table in the third packet of the message.
        withTable[2 * 188 + 1] = 0x40
        withTable[2 * 188 + 2] = 0
        queue.append([Self.message(4, pat: false), withTable, Self.message(5)], at: start)
        let group = await queue.next()
        #expect(group == [Array(withTable[(2 * 188)...]), Self.message(5)])
    }

    @Test("with no table within 2 s, the reader starts at the next message anyway")
    func joinsWithoutTable() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        queue.append([Self.message(1)], at: start + .seconds(1))
        queue.append([Self.message(2)], at: start + .seconds(2.5))
        #expect(await queue.next() == [Self.message(2)])
    }

    @Test("a stream that is not a transport stream is joined at once; so is a publisher's start")
    func joinsOtherStreams() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        queue.append([[1, 2, 3]], at: start)
        #expect(await queue.next() == [[1, 2, 3]])
        let waiting = ReaderQueue(limits: Self.limits, joinedAt: start)
        waiting.startAtNextMessage()
        waiting.append([Self.message(1)], at: start)
        #expect(await waiting.next() == [Self.message(1)])
    }

    @Test("a reader behind by more than its bound loses the oldest whole messages, counted")
    func dropsOldest() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        queue.startAtNextMessage()
        let messages = (0..<15).map { Self.message(UInt8($0)) }
        #expect(queue.append(messages, at: start) == nil)
        let report = queue.report
        #expect(report.droppedMessages == 5)
        #expect(report.droppedBytes == 5 * 1316)
        #expect(report.queuedBytes == 10 * 1316)
        #expect(await queue.next() == Array(messages[5...]))
    }

    @Test("a reader that keeps dropping past its limit is ended as too slow; one that catches up is not")
    func endsSlowReaders() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        queue.startAtNextMessage()
        let full = (0..<11).map { Self.message(UInt8($0)) }
        #expect(queue.append(full, at: start) == nil)
        // A drop every 0.5 s: one run, 5 s long at the 11th.
        for step in 1...10 {
            #expect(queue.append([Self.message(UInt8(step))], at: start + .seconds(0.5 * Double(step))) == nil)
        }
        let ending = queue.append([Self.message(21)], at: start + .seconds(5.1))
        #expect(ending == .tooSlow(droppedPackets: 12 * 7, droppedBySender: 0))
        #expect(await queue.next() == nil)

        // Drops more than a second apart are separate runs.
        let recovering = ReaderQueue(limits: Self.limits, joinedAt: start)
        recovering.startAtNextMessage()
        recovering.append(full, at: start)
        _ = await recovering.next()
        #expect(recovering.append(full, at: start + .seconds(1.5)) == nil)
        _ = await recovering.next()
        #expect(recovering.append(full, at: start + .seconds(3)) == nil)
        _ = await recovering.next()
        #expect(recovering.append(full, at: start + .seconds(4.5)) == nil)
        _ = await recovering.next()
        #expect(recovering.append(full, at: start + .seconds(6)) == nil)
    }

    @Test("libsrt's drops in the send buffer count as falling behind")
    func senderDrops() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        #expect(queue.noteSenderDrops(3, at: start) == nil)
        #expect(queue.noteSenderDrops(3, at: start + .seconds(0.5)) == nil)
        #expect(queue.noteSenderDrops(9, at: start + .seconds(0.9)) == nil)
        // A second without a new drop: the run is over, and the next drop starts another.
        #expect(queue.noteSenderDrops(9, at: start + .seconds(3)) == nil)
        for step in 0..<10 {
            #expect(queue.noteSenderDrops(10 + step, at: start + .seconds(3 + 0.5 * Double(step))) == nil)
        }
        #expect(
            queue.noteSenderDrops(30, at: start + .seconds(8.1)) == .tooSlow(droppedPackets: 0, droppedBySender: 30))
        #expect(await queue.next() == nil)
    }

    @Test("closing wakes a waiting reader with the end")
    func closeWakes() async {
        let queue = ReaderQueue(limits: Self.limits, joinedAt: start)
        async let next = queue.next()
        // The reader may or may not be waiting yet: either way it gets the end.
        try? await Task.sleep(for: .milliseconds(10))
        queue.close()
        #expect(await next == nil)
        #expect(queue.report.ending == .closed)
    }
}
