/// The MPEG transport stream facts the fan-out relies on: 188-byte packets that start with 0x47, and the program
/// association table (PID 0) a decoder needs before anything else.
///
/// SRT live publishers (ffmpeg, OBS, srt-live-transmit, hardware encoders) send 7 packets per message (1316
/// bytes), so a message boundary is a packet boundary: dropping or skipping whole messages keeps every packet whole.
enum TransportStream {
    static let packetSize = 188
    static let syncByte: UInt8 = 0x47

    /// Whether `message` is whole transport stream packets (a length that is a multiple of 188, each starting with
    /// the sync byte).
    static func isWholePackets(_ message: [UInt8]) -> Bool {
        guard !message.isEmpty, message.count % packetSize == 0 else { return false }
        return stride(from: 0, to: message.count, by: packetSize).allSatisfy { message[$0] == syncByte }
    }

    /// The offset of the first packet in `message` that starts a program association table (PID 0, payload unit
    /// start set), or `nil`; `message` must be whole packets.
    static func programAssociationOffset(in message: [UInt8]) -> Int? {
        stride(from: 0, to: message.count - packetSize + 1, by: packetSize).first { offset in
            // Byte 1: transport error (bit 7), payload unit start (bit 6), the PID's top 5 bits; byte 2 its rest.
            message[offset + 1] & 0x40 != 0 && message[offset + 1] & 0x1F == 0 && message[offset + 2] == 0
        }
    }
}
