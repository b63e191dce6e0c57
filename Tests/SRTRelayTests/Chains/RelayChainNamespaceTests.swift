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

    /// Feeds `publisher` 7-packet messages at about 2 Mbit/s per `groups` until `stop` is set or `limit` passed.
    static func feed(
        _ publisher: TestProcess, sent: Sent, groups: Int, limit: Duration, until stop: RelayReaderFaultTests.StopFlag
    ) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                defer { done.resume() }
                let deadline = ContinuousClock.now + limit
                while !stop.isSet.load(ordering: .relaxed) && ContinuousClock.now < deadline {
                    // 4 messages every 21 ms: about 2 Mbit/s, times `groups`.
                    for _ in 0..<(4 * groups) {
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

    /// Trials of each fault: 1, or `SRT_CHAIN_TRIALS` (the benchmark: `SRT_CHAIN_TRIALS=20 swift test --filter
    /// RelayChainNamespaceTests` prints p50 and p99 of each fault kind, the faults spaced by the caller's stable
    /// uptime).
    static let trials = max(1, min(100, Int(ProcessInfo.processInfo.environment["SRT_CHAIN_TRIALS"] ?? "") ?? 1))

    @Test(
        "origin killed and restarted, ICMP on the edge's caller, link down 3 s: the reader resumes, nothing corrupted",
        .timeLimit(.minutes(30)))
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
        // 8 Mbit/s for one trial; 2 Mbit/s for many, so that the reader's file stays small. A trial takes about 45 s
        // when spaced: the feed outlasts them all, or the trials after its end would find nothing to receive.
        async let fed: Void = Self.feed(
            publisher, sent: sent, groups: Self.trials == 1 ? 4 : 1, limit: .seconds(60 + 60 * Self.trials),
            until: stop)
        defer { stop.isSet.store(true, ordering: .relaxed) }
        #expect(await RelayAcceptanceTests.eventually(within: .seconds(15)) { Self.lastPacket(in: output) != nil })

        /// Waits until the reader has a packet sent after `mark` (the publisher's count at the fault's end); returns
        /// how long that took.
        func resumed(after mark: UInt32, _ fault: String) async -> Duration {
            let ended = ContinuousClock.now
            let back = await RelayAcceptanceTests.eventually(within: .seconds(20)) {
                (Self.lastPacket(in: output) ?? 0) > mark
            }
            let took = ContinuousClock.now - ended
            #expect(back, "\(fault): the reader's last packet \(Self.lastPacket(in: output) ?? 0), sent \(mark)")
            if !back {
                // What each relay said lately, the status lines left out: where the stream stopped.
                for (role, relay) in [("origin", origin), ("edge", edge)] {
                    let said = relay.process.lines.filter { !$0.contains("\"event\":\"status\"") }.suffix(30)
                    print("srt-relay chain: the \(role)'s last lines:\n" + said.joined(separator: "\n"))
                }
            }
            print("srt-relay chain: \(fault) → the reader receives packets sent after it in \(took)")
            return took
        }

        /// With many trials, waits until the edge's pull has been connected for the caller's stable uptime (10 s),
        /// so that each fault meets a caller whose failing streak is over, as an isolated fault does: faults a few
        /// seconds apart would be a flapping origin, for which the caller's backoff grows on purpose.
        func spaced() async throws {
            guard Self.trials > 1 else { return }
            let lines = edge.process.lines
            guard
                let last = lines.indices.last(where: {
                    RelayLog.decode(lines[$0])?["event"] as? String == "pull-connected"
                }),
                let connectedAt = edge.process.arrival(ofLine: last)
            else { return }
            let stable = connectedAt + .milliseconds(10_500)
            if stable > .now { try await Task.sleep(until: stable) }
        }

        var times: [String: [Duration]] = [:]
        for _ in 0..<Self.trials {
            // The chain's own delay, without a fault: three hops of 300 ms latency, which every figure includes.
            let none = "no fault (the chain's own delay)"
            times[none, default: []].append(await resumed(after: sent.next.load(ordering: .relaxed), none))

            try await spaced()
            // 1. The origin process killed (no goodbye to anyone) and started again on its port.
            let edgeLines = edge.process.lines.count
            let killedAt = ContinuousClock.now
            origin.process.signal(SIGKILL)
            _ = await origin.process.exitStatus(within: .seconds(5))
            origin.stop()
            origin = try await RelayUnderTest.start(
                ["--record", "none", "--latency", "300", "--listen", "192.0.2.1:\(originPort)"],
                namespace: originSide, port: originPort)
            let restartedAt = ContinuousClock.now
            let killed = "origin killed and restarted"
            times[killed, default: []].append(await resumed(after: sent.next.load(ordering: .relaxed), killed))
            // The edge's own part: its pull saw the silence and connected to the new origin. The reader waits for the
            // publisher too, whose libsrt notices the dead origin only by its silent-peer timeout.
            let (_, line) = try await edge.log.first("pull-connected", since: edgeLines, within: .seconds(10))
            let reconnectedAt = try #require(edge.process.arrival(ofLine: line))
            let edgeBack = "origin killed and restarted: the edge's pull connected again"
            times[edgeBack, default: []].append(max(.zero, reconnectedAt - restartedAt))
            print("srt-relay chain: \(edgeBack) \(reconnectedAt - restartedAt) after the restart")
            // Before libsrt's 5 s of silence would have broken it, unless the restart itself took that long.
            if restartedAt - killedAt < .seconds(2) {
                #expect(
                    reconnectedAt - killedAt < .seconds(4),
                    "the edge's pull connected again \(reconnectedAt - killedAt) after the kill")
            }

            try await spaced()
            // 2. The ICMP fault on the edge's caller sockets (the pull's, and one a broken connection may have left
            // for libsrt to close): the receive thread of the live one dies.
            let callerPorts = ICMPFault.udpPorts(process: edge.process.pid).filter { $0 != edgePort }
            try #require(!callerPorts.isEmpty, "the edge's caller socket")
            // A socket libsrt is closing may be gone by the time it is reached: the others are hit all the same.
            var hit = 0
            for port in callerPorts where (try? ICMPFault.enableErrors(process: edge.process.pid, port: port)) != nil {
                try ICMPFault.sendNetUnreachable(port: UInt16(port), namespace: edgeSide.name)
                hit += 1
            }
            try #require(hit > 0, "the ICMP fault on one of the edge's caller sockets \(callerPorts)")
            let icmp = "ICMP on the edge's caller"
            times[icmp, default: []].append(await resumed(after: sent.next.load(ordering: .relaxed), icmp))

            try await spaced()
            // 3. The link between them down for 3 s.
            try edgeSide.ip(["link", "set", "veth0", "down"])
            try await Task.sleep(for: .seconds(3))
            try edgeSide.ip(["link", "set", "veth0", "up"])
            let link = "link down 3 s"
            times[link, default: []].append(await resumed(after: sent.next.load(ordering: .relaxed), link))
        }
        if Self.trials > 1 {
            for (fault, durations) in times.sorted(by: { $0.key < $1.key }) {
                let sorted = durations.sorted()
                let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
                print(
                    "srt-relay chain, \(sorted.count) trials: \(fault): p50 \(sorted[sorted.count / 2]), p99 \(p99), "
                        + "max \(sorted.last ?? .zero)")
            }
        }

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
