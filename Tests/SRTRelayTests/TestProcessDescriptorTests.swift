import Foundation
import Testing

/// What a child started by ``TestProcess`` gets from the test process: its three standard streams and nothing else.
/// Every test target links into one test binary, whose sockets (swift-nio's are not close-on-exec) a child would
/// otherwise keep open for as long as it runs: a port the test closed stays bound, and a connection the test closed
/// never reaches its peer's end of stream.
@Suite("Children of the test process")
struct TestProcessDescriptorTests {
    @Test("a child inherits no descriptor but 0, 1 and 2: a listening socket the test closes frees its port at once")
    func childInheritsNoSocket() throws {
        // As swift-nio makes them: no SOCK_CLOEXEC.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        var closed = false
        defer { if !closed { close(listener) } }
        let port = try #require(Self.bindLoopback(listener, port: 0))
        try #require(listen(listener, 8) == 0)
        let inode = try #require(Self.socketInode(listener))

        let child = try TestProcess("/bin/sleep", ["30"])
        defer { child.terminate() }
        // posix_spawn returns once the child ran exec: what it holds now is what it keeps.
        let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd").compactMap { Int($0) }
        #expect(held.sorted() == [0, 1, 2], "the child holds \(held.sorted())")

        close(listener)
        closed = true
        // Other tests of this process start children through Foundation's `Process`, which passes them every
        // descriptor not marked close-on-exec: one started in the moment this socket was open keeps it. That is not
        // this child, and it is told apart by who holds the socket now.
        let holders = Self.holders(ofSocket: inode)
        #expect(!holders.contains(child.pid), "the child holds the closed listening socket")
        guard holders.isEmpty else {
            print("listening socket \(inode) kept by another test's child (pids \(holders)): the rebind is not tried")
            return
        }
        // A server's restart binds the same port again (SO_REUSEADDR, as swift-nio's servers): only another open
        // listening socket on it, such as one a child inherited, refuses that.
        let again = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(again >= 0)
        defer { close(again) }
        var one: Int32 = 1
        setsockopt(again, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        #expect(Self.bindLoopback(again, port: port) != nil, "port \(port) still bound: errno \(errno)")
        #expect(listen(again, 8) == 0)
    }

    /// The inode of the socket `descriptor` names, as `/proc/<pid>/fd` shows it (`socket:[inode]`).
    static func socketInode(_ descriptor: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)")
    }

    /// The processes (other than this one) with a descriptor on the socket `inode`.
    static func holders(ofSocket inode: String) -> [Int32] {
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return processes.compactMap(Int32.init).filter { pid in
            guard pid != getpid() else { return false }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return entries.contains {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == inode
            }
        }
    }

    /// Binds `descriptor` to 127.0.0.1:`port`; the port bound, nil if the bind failed (`errno` says why).
    static func bindLoopback(_ descriptor: Int32, port: UInt16) -> UInt16? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(descriptor, raw, length) == 0 && getsockname(descriptor, raw, &length) == 0
            }
        }
        return bound ? UInt16(bigEndian: address.sin_port) : nil
    }
}
