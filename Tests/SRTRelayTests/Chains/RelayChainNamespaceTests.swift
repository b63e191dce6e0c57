import Foundation
import SRTTestSupport
import Synchronization
import Testing

/// A chain across a real link: publisher → origin relay in one network namespace, edge relay pulling from it in
/// another, joined by a veth pair with documentation addresses (192.0.2.1 and .2) that exist only there; a reader
/// of the edge. Three faults on the hop between them, one after the other: the origin process killed and started
/// again, the ICMP fault on the edge's caller socket, the link down for 3 s. After each, the time from the end of
/// the fault to the reader receiving a packet sent after it is printed, and everything the reader got is checked:
/// whole 188-byte packets, each as the publisher made it, in the order sent.
@Suite(
    "srt-relay chain across network namespaces",
    .enabled(if: RelayBinary.prerequisite.allowsRunning, RelayBinary.prerequisite.comment),
    .enabled(if: Prerequisite.srtTools.allowsRunning, Prerequisite.srtTools.comment),
    .enabled(if: Prerequisite.namespaces.allowsRunning, Prerequisite.namespaces.comment))
struct RelayChainNamespaceTests {
    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// A synthetic transport stream: a program association table every 64 packets (so a reader can join), the
    /// others carrying their number and a fill derived from it, so that any packet can be checked on its own.
    enum Stream {
        static let dataPID: UInt16 = 0x100

        static func packet(_ number: UInt32) -> [UInt8] {
            var packet = [UInt8](repeating: 0xFF, count: 188)
            packet[0] = 0x47
            if number % 64 == 0 {
                // PID 0 with payload unit start: a table's first packet.
                packet[1] = 0x40
                packet[2] = 0x00
            } else {
                packet[1] = UInt8(dataPID >> 8)
                packet[2] = UInt8(dataPID & 0xFF)
            }
            packet[3] = 0x10 | UInt8(number & 0x0F)
            withUnsafeBytes(of: number.bigEndian) { packet.replaceSubrange(4..<8, with: $0) }
            for index in 8..<188 { packet[index] = UInt8(truncatingIfNeeded: number &* 31 &+ UInt32(index)) }
            return packet
        }

        /// The number of `packet` if it is one of this stream's, unaltered; `nil` otherwise.
        static func number(of packet: ArraySlice<UInt8>) -> UInt32? {
            guard packet.count == 188 else { return nil }
            let start = packet.startIndex
            let number = packet[(start + 4)..<(start + 8)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return packet.elementsEqual(Self.packet(number)) ? number : nil
        }
    }

    /// The number of the next packet the feeder sends.
    final class Sent: Sendable {
        let next = Atomic<UInt32>(0)
    }

    /// Feeds `publisher` 7-packet messages at about 8 Mbit/s until `stop` is set or 90 s passed.
    static func feed(_ publisher: TestProcess, sent: Sent, until stop: RelayReaderFaultTests.StopFlag) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                defer { done.resume() }
                let deadline = ContinuousClock.now + .seconds(90)
                while !stop.isSet.load(ordering: .relaxed) && ContinuousClock.now < deadline {
                    // 16 messages every 21 ms: about 8 Mbit/s.
                    for _ in 0..<16 {
                        let first = sent.next.load(ordering: .relaxed)
                        let message = (first..<first + 7).flatMap(Stream.packet)
                        guard publisher.write(message[...]) else { return }
                        sent.next.store(first + 7, ordering: .relaxed)
                    }
                    usleep(21_000)
                }
            }
        }
    }

    /// The number of the last whole packet in the reader's file (which holds whole packets from its start).
    static func lastPacket(in path: String) -> UInt32? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size >= 188 else { return nil }
        let offset = size / 188 * 188 - 188
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.read(upToCount: 188) else {
            return nil
        }
        return Stream.number(of: [UInt8](data)[...])
    }

    @Test(
        "origin killed and restarted, ICMP on the edge's caller, link down 3 s: the reader resumes, nothing corrupted",
        .timeLimit(.minutes(2)))
    func faultsOnTheHop() async throws {
        let originSide = try NetworkNamespace("chorigin")
        defer { originSide.delete() }
        let edgeSide = try NetworkNamespace("chedge")
        defer { edgeSide.delete() }
        try originSide.link(address: "192.0.2.1/24", to: edgeSide, otherAddress: "192.0.2.2/24")
        // Ports inside the namespaces: free there whatever this machine uses.
        let (originPort, edgePort) = (9000, 9001)
        var origin = try await RelayUnderTest.start(
            ["--record", "none", "--latency", "300", "--listen", "192.0.2.1:\(originPort)"], namespace: originSide,
            port: originPort)
        defer { origin.stop() }
        let edge = try await RelayUnderTest.start(
            ["--record", "none", "--latency", "300", "--pull", "*=srt://192.0.2.1:\(originPort)"], namespace: edgeSide,
            port: edgePort)
        defer { edge.stop() }
        let output = edge.directory.path + "-reader.ts"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let reader = try LiveTransmitReader.start(
            port: edgePort, streamID: "read:cam1", into: output, reconnecting: true, namespace: edgeSide)
        defer { reader.terminate() }
        // srt-live-transmit reconnects on its own, as an encoder that retries.
        let publisher = try TestProcess(
            RelayBinary.publisher, ["-q", "file://con", "srt://192.0.2.1:\(originPort)?mode=caller&streamid=cam1"],
            namespace: originSide)
        defer { publisher.terminate() }
        let sent = Sent()
        let stop = RelayReaderFaultTests.StopFlag()
        async let fed: Void = Self.feed(publisher, sent: sent, until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        #expect(await RelayAcceptanceTests.eventually(within: .seconds(15)) { Self.lastPacket(in: output) != nil })

        /// Waits until the reader has a packet sent after `mark` (the publisher's count at the fault's end).
        func resumed(after mark: UInt32, _ fault: String) async {
            let ended = ContinuousClock.now
            let back = await RelayAcceptanceTests.eventually(within: .seconds(20)) {
                (Self.lastPacket(in: output) ?? 0) > mark
            }
            #expect(back, "\(fault): the reader's last packet \(Self.lastPacket(in: output) ?? 0), sent \(mark)")
            print("srt-relay chain: \(fault) → the reader receives packets sent after it in \(.now - ended)")
        }

        // The chain's own delay, without a fault: three hops of 300 ms latency, which every figure below includes.
        await resumed(after: sent.next.load(ordering: .relaxed), "no fault (the chain's own delay)")

        // 1. The origin process killed (no goodbye to anyone) and started again on its port.
        origin.process.signal(SIGKILL)
        _ = await origin.process.exitStatus(within: .seconds(5))
        origin.stop()
        origin = try await RelayUnderTest.start(
            ["--record", "none", "--latency", "300", "--listen", "192.0.2.1:\(originPort)"], namespace: originSide,
            port: originPort)
        await resumed(after: sent.next.load(ordering: .relaxed), "origin killed and restarted")

        // 2. The ICMP fault on the edge's caller sockets (the pull's, and one a broken connection may have left for
        // libsrt to close): the receive thread of the live one dies.
        let callerPorts = ICMPFault.udpPorts(process: edge.process.pid).filter { $0 != edgePort }
        try #require(!callerPorts.isEmpty, "the edge's caller socket")
        for port in callerPorts {
            try ICMPFault.enableErrors(process: edge.process.pid, port: port)
            try ICMPFault.sendNetUnreachable(port: UInt16(port), namespace: edgeSide.name)
        }
        await resumed(after: sent.next.load(ordering: .relaxed), "ICMP on the edge's caller")

        // 3. The link between them down for 3 s.
        try edgeSide.ip(["link", "set", "veth0", "down"])
        try await Task.sleep(for: .seconds(3))
        try edgeSide.ip(["link", "set", "veth0", "up"])
        await resumed(after: sent.next.load(ordering: .relaxed), "link down 3 s")

        stop.isSet.store(true, ordering: .relaxed)
        await fed
        reader.signal(SIGINT)
        _ = await reader.exitStatus(within: .seconds(3))
        // Everything the reader got: whole packets as made, in the order sent; gaps only where faults were.
        let bytes = RelayReaderTests.fileBytes(output)
        let packets = stride(from: 0, to: bytes.count - bytes.count % 188, by: 188).map { bytes[$0..<($0 + 188)] }
        let numbers = packets.map(Stream.number(of:))
        let corrupted = numbers.filter { $0 == nil }.count
        let valid = numbers.compactMap { $0 }
        let disordered = zip(valid, valid.dropFirst()).filter { $0 >= $1 }.count
        let gaps = zip(valid, valid.dropFirst()).filter { $1 > $0 + 1 }.count
        print(
            "srt-relay chain: \(packets.count) packets read, \(corrupted) corrupted, \(disordered) out of order, \(gaps) gaps"
        )
        #expect(packets.count > 10_000)
        #expect(corrupted == 0 && disordered == 0, "\(corrupted) corrupted, \(disordered) out of order")
        #expect(bytes.count % 188 == 0, "whole packets: \(bytes.count) bytes")
    }
}
