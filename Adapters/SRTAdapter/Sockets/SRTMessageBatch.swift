/// The messages one read took from a connection, back to back in one buffer: a recorder appends them in one copy,
/// and a batch costs two allocations however many messages it holds (a message per array costs one each).
///
/// ```swift
/// let batch = try await connection.receiveBatch()
/// file.append(contentsOf: batch.bytes)            // every message, in order, back to back
/// for message in batch { reader.send(Array(message)) }   // one message: a slice of `bytes`
/// ```
public struct SRTMessageBatch: RandomAccessCollection, Sendable {
    /// Every message's bytes, one after the other.
    public let bytes: [UInt8]
    /// Where each message ends in ``bytes``.
    private let ends: [Int]

    /// A batch of `bytes` cut at `ends` (each the end of a message, ascending, the last one `bytes.count`).
    init(bytes: [UInt8], ends: [Int]) {
        self.bytes = bytes
        self.ends = ends
    }

    /// A batch of whole messages, each copied once into the shared buffer.
    public init(_ messages: some Sequence<[UInt8]>) {
        var bytes: [UInt8] = []
        var ends: [Int] = []
        for message in messages {
            bytes += message
            ends.append(bytes.count)
        }
        self.init(bytes: bytes, ends: ends)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { ends.count }

    public subscript(position: Int) -> ArraySlice<UInt8> {
        bytes[(position == 0 ? 0 : ends[position - 1])..<ends[position]]
    }

    /// This batch's messages, then `other`'s (a copy of both).
    func appending(_ other: SRTMessageBatch) -> SRTMessageBatch {
        let offset = bytes.count
        return SRTMessageBatch(bytes: bytes + other.bytes, ends: ends + other.ends.map { $0 + offset })
    }

    /// The messages from `first` on, as a batch of their own (a copy of their bytes).
    func dropping(_ first: Int) -> SRTMessageBatch {
        guard first > 0 else { return self }
        guard first < ends.count else { return SRTMessageBatch(bytes: [], ends: []) }
        let start = ends[first - 1]
        return SRTMessageBatch(bytes: Array(bytes[start...]), ends: ends[first...].map { $0 - start })
    }
}
