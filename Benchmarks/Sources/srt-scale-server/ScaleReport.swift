/// The connection-scale verdict over every connection's tally, printed as "RESULT key=value ..." lines.
struct ScaleReport: CustomStringConvertible {
    let connections: Int
    let messages: Int
    let accepted: Int
    let received: Int
    let bytes: Int
    let lost: Int
    let duplicates: Int
    let outOfOrder: Int
    let foreign: Int
    /// Connections whose stream id is not "scale/<the index in its payloads>".
    let mismatchedStreamIDs: Int
    /// Connections that lost at least one message, and the worst of them.
    let lossyConnections: Int
    let worst: (streamID: String, lost: Int)?
    /// How the connections ended (libsrt's code, "closed", or "deadline"), with counts.
    let endings: [String: Int]
    /// Delivery time percentiles in milliseconds: 50th, 99th, 99.9th, largest.
    let latency: [Double]

    init(tallies: [ConnectionTally], connections: Int, messages: Int) {
        self.connections = connections
        self.messages = messages
        accepted = tallies.count
        received = tallies.reduce(0) { $0 + $1.received }
        bytes = tallies.reduce(0) { $0 + $1.bytes }
        // Connections never accepted lost everything.
        lost = tallies.reduce(0) { $0 + $1.lost } + (connections - tallies.count) * messages
        duplicates = tallies.reduce(0) { $0 + $1.duplicates }
        outOfOrder = tallies.reduce(0) { $0 + $1.outOfOrder }
        foreign = tallies.reduce(0) { $0 + $1.foreign }
        mismatchedStreamIDs = tallies.filter { $0.streamID != "scale/\($0.index)" }.count
        let lossy = tallies.filter { $0.lost > 0 }
        lossyConnections = lossy.count
        worst = lossy.max { $0.lost < $1.lost }.map { ($0.streamID, $0.lost) }
        endings = tallies.reduce(into: [:]) { $0[$1.ending, default: 0] += 1 }
        var all = tallies.flatMap(\.latenciesMicroseconds)
        all.sort()
        latency =
            all.isEmpty
            ? [] : [0.5, 0.99, 0.999, 1.0].map { Double(all[min(all.count - 1, Int(Double(all.count) * $0))]) / 1_000 }
    }

    /// Every connection accepted, every message delivered once, in order, to the right connection.
    var isComplete: Bool {
        accepted == connections && lost == 0 && duplicates == 0 && outOfOrder == 0 && foreign == 0
            && mismatchedStreamIDs == 0
    }

    var description: String {
        let endingText = endings.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        let latencyText = latency.map { "\(($0 * 10).rounded() / 10)" }.joined(separator: "/")
        return """
            RESULT connections=\(connections) accepted=\(accepted) expected=\(connections * messages) \
            received=\(received) bytes=\(bytes) lost=\(lost) duplicates=\(duplicates) out_of_order=\(outOfOrder) \
            foreign=\(foreign) mismatched_stream_ids=\(mismatchedStreamIDs) lossy_connections=\(lossyConnections) \
            worst=\(worst.map { "\($0.streamID):\($0.lost)" } ?? "-") endings=\(endingText)
            LATENCY ms_p50_p99_p999_max=\(latencyText)
            """
    }
}
