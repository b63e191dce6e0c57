// The library's side of the throughput benchmark (Benchmarks/srt-throughput/run.py): an SRTServer on loopback that
// accepts one caller, drains its messages through `connection.messages`, checks the sequence number in each, and
// prints one JSON line when the caller goes away. Usage: srt-drain PORT [LATENCY_MS]
import SRTAdapter

let arguments = CommandLine.arguments.dropFirst()
guard let port = arguments.first.flatMap({ Int($0) }) else {
    print("usage: srt-drain PORT [LATENCY_MS]")
    SRTRuntime.exit(2)
}
let latency = arguments.dropFirst().first.flatMap { Int($0) } ?? 120

/// What one connection delivered.
struct Tally {
    var messages = 0
    var bytes = 0
    /// Sequence numbers skipped: messages libsrt never handed over.
    var missing: UInt64 = 0
    /// Messages whose sequence number was below the one expected (never in live mode; counted to prove it).
    var backwards = 0
    var expected: UInt64 = 0
    var statistics: SRTStatistics?
    var ending = ""

    mutating func count(_ message: [UInt8]) {
        messages += 1
        bytes += message.count
        guard message.count >= 8 else { return }
        // The sender writes its sequence number big-endian into the first 8 bytes.
        let sequence = message.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }
        if sequence >= expected {
            missing += sequence - expected
            expected = sequence + 1
        } else {
            backwards += 1
        }
    }
}

func drain(_ connection: SRTConnection) async -> Tally {
    var tally = Tally()
    do {
        for try await message in connection.messages {
            tally.count(message)
            // libsrt may release a broken socket within a second, so keep recent counters in hand.
            if tally.messages % 4096 == 0 { tally.statistics = try? connection.statistics() }
        }
        tally.ending = "closed"
    } catch {
        // The sender closing is the normal end: 2001, or 5004 once libsrt released the socket.
        tally.ending = "\(error)"
    }
    tally.statistics = (try? connection.statistics()) ?? tally.statistics
    connection.close()
    return tally
}

SRTRuntime.start(logLevel: .error)
let configuration: SRTListenerConfiguration
do {
    configuration = try SRTListenerConfiguration(host: "127.0.0.1", port: port, latency: .milliseconds(latency))
} catch {
    print("srt-drain: \(error)")
    SRTRuntime.exit(2)
}
let server = SRTServer(configuration: configuration)
let tally = await withThrowingTaskGroup(of: Void.self) { group -> Tally? in
    group.addTask { try await server.run() }
    var tally: Tally?
    for await connection in server.connections {
        tally = await drain(connection)
        break
    }
    group.cancelAll()
    return tally
}
guard let tally else {
    print("srt-drain: the server stopped before a caller came")
    SRTRuntime.exit(1)
}
let stats = tally.statistics
print(
    """
    {"messages": \(tally.messages), "bytes": \(tally.bytes), "missing": \(tally.missing), \
    "backwards": \(tally.backwards), "pktRecv": \(stats?.packetsReceived ?? -1), \
    "pktRcvLoss": \(stats?.packetsReceivedLost ?? -1), "pktRcvDrop": \(stats?.packetsReceivedDropped ?? -1), \
    "ending": "\(String(tally.ending.map { $0 == "\"" ? "'" : $0 }))"}
    """)
SRTRuntime.exit(0)
