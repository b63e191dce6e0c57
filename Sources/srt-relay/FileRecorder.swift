import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Records one stream to a new file, through a 64 KiB buffer; ``close()`` writes the rest and closes the file.
///
/// ```swift
/// let recorder = try FileRecorder.create(in: "recordings", name: "cam1-20261129T153005Z.ts")
/// try recorder.write(message)
/// try recorder.close()
/// ```
final class FileRecorder: StreamSink {
    let destination: String
    private let state: Mutex<State>
    private static let bufferSize = 64 * 1024

    private struct State {
        var descriptor: Int32
        var buffer: [UInt8]
    }

    private init(path: String, descriptor: Int32) {
        destination = path
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.bufferSize)
        state = Mutex(State(descriptor: descriptor, buffer: buffer))
    }

    deinit {
        try? close()
    }

    /// Creates `directory` (and its parents) if needed and a new file named after `name` in it; never overwrites:
    /// an existing name gets a counter (`-2`, `-3`, …) from `name(counter)`.
    static func create(in directory: String, name: (Int) -> String) throws(SinkError) -> FileRecorder {
        try makeDirectories(directory)
        for counter in 1...1000 {
            let path = directory.hasSuffix("/") ? directory + name(counter) : "\(directory)/\(name(counter))"
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return FileRecorder(path: path, descriptor: descriptor) }
            guard errno == EEXIST else { throw SinkError(operation: "create \(path)", errno: errno) }
        }
        throw SinkError(operation: "create a file in \(directory)", errno: EEXIST)
    }

    func write(_ message: [UInt8]) throws(SinkError) {
        try state.withLock { state throws(SinkError) in
            state.buffer.append(contentsOf: message)
            if state.buffer.count >= Self.bufferSize { try flush(&state) }
        }
    }

    func close() throws(SinkError) {
        try state.withLock { state throws(SinkError) in
            guard state.descriptor >= 0 else { return }
            defer {
                Glibc.close(state.descriptor)
                state.descriptor = -1
            }
            try flush(&state)
        }
    }

    private func flush(_ state: inout State) throws(SinkError) {
        var offset = 0
        let count = state.buffer.count
        while offset < count {
            let written = state.buffer.withUnsafeBytes {
                Glibc.write(state.descriptor, $0.baseAddress! + offset, count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                state.buffer.removeAll(keepingCapacity: true)
                throw SinkError(operation: "write \(destination)", errno: errno)
            }
            offset += written
        }
        state.buffer.removeAll(keepingCapacity: true)
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(SinkError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SinkError(operation: "create directory \(prefix)", errno: errno)
            }
            prefix += "/"
        }
    }
}
