extension SRTConnection {
    /// The messages this connection receives, as an `AsyncSequence`: it ends when the connection is closed
    /// locally, throws when it breaks (2001 and the other per-connection codes), and stops waiting when the
    /// iterating task is cancelled.
    ///
    /// ```swift
    /// for try await message in connection.messages {
    ///     try await output.write(message)
    /// }
    /// ```
    public var messages: Messages {
        Messages(connection: self)
    }

    /// The `AsyncSequence` of ``SRTConnection/messages``.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = [UInt8]
        let connection: SRTConnection

        public func makeAsyncIterator() -> Iterator {
            Iterator(connection: connection)
        }

        /// Receives one message per `next()`.
        public struct Iterator: AsyncIteratorProtocol {
            let connection: SRTConnection

            public mutating func next() async throws -> [UInt8]? {
                do {
                    return try await connection.receive()
                } catch let error as SRTError where error.code == .closedLocally {
                    // Our own close ends the sequence; it is not a failure.
                    return nil
                }
            }
        }
    }
}
