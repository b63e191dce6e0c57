/// One message of the soak's live streams: 1316 bytes (seven MPEG-TS packets, what live SRT usually carries), a
/// big-endian sequence number in the first 8 bytes and a filler derived from it, so that a lost, repeated,
/// reordered or damaged message is told apart from the others.
enum SoakMessage {
    static let size = 1316

    /// Message number `sequence`.
    static func make(_ sequence: UInt64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            for index in 0..<8 { buffer[index] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * index)) }
            for index in 8..<size { buffer[index] = filler(sequence, index) }
            count = size
        }
    }

    /// The sequence number of `message`, or `nil` when it is not intact (wrong size, or a filler byte that does not
    /// match its number).
    static func sequence(of message: [UInt8]) -> UInt64? {
        guard message.count == size else { return nil }
        let sequence = message[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        for index in 8..<size where message[index] != filler(sequence, index) { return nil }
        return sequence
    }

    private static func filler(_ sequence: UInt64, _ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: sequence &* 31 &+ UInt64(index))
    }
}
