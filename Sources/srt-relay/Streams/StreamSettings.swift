/// How the relay serves streams: who may publish over whom, how many may read, how far a reader may fall behind,
/// and which streams are recorded.
struct StreamSettings: Sendable {
    /// Which streams are recorded (with `--output`; a forwarding relay forwards every publisher instead).
    enum Recording: Sendable, Hashable {
        case all
        case none
        case only(Set<String>)

        func includes(_ name: String) -> Bool {
            switch self {
            case .all: true
            case .none: false
            case .only(let names): names.contains(name)
            }
        }
    }

    /// A second publisher of a stream replaces the first instead of being refused.
    var takeover = false
    /// The most readers of one stream.
    var maxReaders = 50
    var readerQueue = ReaderQueue.Limits(maxBytes: 4 << 20, slowLimit: .seconds(5))
    var recording = Recording.all
    /// This relay in chains: its id, carried by its pushes and pulls, refused when it comes back (a loop).
    var identity = RelayIdentity.random()
    /// Where streams are pushed on to (``StreamPushes``), in the order given.
    var pushes: [PushRule] = []
    /// What a push holds while its caller reconnects, or its listener falls behind; the oldest go first.
    var pushBuffer = 8 << 20
    /// The most pushes at a time, lingering ones included: with a `*` rule, each stream name a publisher makes up is
    /// an outgoing connection, which outlives the publisher by ``pushLinger``.
    var maxPushes = 64
    /// The most pulls at a time, lingering ones included: each name a reader asks for would otherwise be one more
    /// outgoing connection.
    var maxPulls = 64
    /// How long a push outlives its stream's publisher: one that reconnects within it finds the push still there.
    var pushLinger = Duration.seconds(10)
    /// Where streams nobody publishes here are pulled from for their readers (``StreamPulls``), first match first.
    var pulls: [PushRule] = []
    /// How long a pull outlives its stream's last reader: a reader that comes back within it finds it connected.
    var pullLinger = Duration.seconds(10)
    /// How long a pulled stream that flowed may stop arriving before the pull calls its origin again (``StallWatch``);
    /// `nil` leaves it to libsrt's silent-peer timeout (about 5 s).
    var pullStall: Duration? = .seconds(1)
    /// How long a push may send without an acknowledgement before it calls its listener again (``StallWatch``);
    /// `nil` leaves it to libsrt's silent-peer timeout.
    var pushStall: Duration? = .seconds(1)
}
