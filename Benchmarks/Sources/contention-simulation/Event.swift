/// A message in flight in the simulation, delivered at `time` (milliseconds from the start of the run).
struct Event {
    /// Where a message is going and what it carries.
    enum Kind {
        /// A client's read request reaches the server.
        case readAtServer
        /// The server's answer to a read reaches the client, with the version it read.
        case readReply(version: Int)
        /// A client's conditional write reaches the server, expecting `version`.
        case writeAtServer(version: Int)
        /// The server's answer to a write reaches the client.
        case writeReply(succeeded: Bool)
    }

    let time: Double
    // Breaks ties between equal times in the order the events were made, so runs are deterministic.
    let sequence: Int
    let client: Int
    let kind: Kind

    /// Whether `self` is delivered before `other`.
    func precedes(_ other: Event) -> Bool {
        time < other.time || (time == other.time && sequence < other.sequence)
    }
}
