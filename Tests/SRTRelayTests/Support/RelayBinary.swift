import Foundation
import SRTTestSupport
import SwiftOverlayShims  // defines timeval's members for MemberImportVisibility, whatever the file batching

/// Where the built `srt-relay` is: next to this test bundle in the build directory (`swift build` and
/// `swift test` build it with the tests, since this target depends on it).
enum RelayBinary {
    static let publisher = "/usr/bin/srt-live-transmit"

    /// The built binary, for the suites that start it.
    static let prerequisite = Prerequisite("the srt-relay binary (built with the tests)") { path != nil }

    static var path: String? {
        var candidates: [URL] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for directory in candidates {
            let binary = directory.appendingPathComponent("srt-relay").path
            if FileManager.default.isExecutableFile(atPath: binary) { return binary }
        }
        return nil
    }

    /// A port on 127.0.0.1 that was free a moment ago (``FreePort``); UDP unless `type` says otherwise.
    static func freePort(type: Int32 = Int32(SOCK_DGRAM.rawValue)) throws -> Int {
        try FreePort.loopback(type: type)
    }
}

/// A plain HTTP/1.0 GET to 127.0.0.1 over a TCP socket: the status code and the body, or `nil` when nothing
/// answers. Blocking, with a 2 s timeout: call it from a thread of its own (``HTTP/get(port:path:)``).
enum HTTP {
    static func get(port: Int, path: String) async -> (status: Int, body: String)? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: blockingGet(port: port, path: path)) }
        }
    }

    /// ``get(port:path:)`` timed on its own thread, from the connect to the end of the answer: the server's part,
    /// without the time it takes to start the thread.
    static func timedGet(port: Int, path: String) async -> (answer: (status: Int, body: String)?, time: Duration) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let started = ContinuousClock.now
                let answer = blockingGet(port: port, path: path)
                continuation.resume(returning: (answer, ContinuousClock.now - started))
            }
        }
    }

    /// Asks until the answer is 200 (a server that is still coming up), at most `limit`; the last answer.
    static func getReady(port: Int, path: String, within limit: Duration = .seconds(5)) async -> (
        status: Int, body: String
    )? {
        let deadline = ContinuousClock.now + limit
        var answer = await get(port: port, path: path)
        while answer?.status != 200, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
            answer = await get(port: port, path: path)
        }
        return answer
    }

    /// A TCP connection to 127.0.0.1:`port` whose reads time out after 2 s; `nil` when it cannot be made.
    static func connect(port: Int) -> Int32? {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return nil }
        var timeout = timeval()  // field by field, as in NotifySocket
        timeout.tv_sec = 2
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(socket)
            return nil
        }
        return socket
    }

    /// `method` (GET, DELETE, …) on `path`, as ``get(port:path:)`` does.
    static func request(_ method: String, port: Int, path: String) async -> (status: Int, body: String)? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: blockingGet(port: port, path: path, method: method))
            }
        }
    }

    private static func blockingGet(port: Int, path: String, method: String = "GET") -> (status: Int, body: String)? {
        guard let socket = connect(port: port) else { return nil }
        defer { close(socket) }
        let request = Array("\(method) \(path) HTTP/1.0\r\n\r\n".utf8)
        guard send(socket, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            response += buffer[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { return nil }
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}
