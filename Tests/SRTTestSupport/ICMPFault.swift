import Foundation
import Synchronization

/// Fault A through the real kernel path: a UDP socket with `IP_RECVERR` set receives one ICMP "net unreachable"
/// quoting a datagram it sent, and its next `recvmsg` fails with ENETUNREACH, which ends libsrt's receive thread.
/// Needs root (a raw socket, another process's descriptor) and a network namespace of the test's own, so that the
/// ICMP packet reaches nothing else.
///
/// ```swift
/// try ICMPFault.enableErrors(process: relay.pid, port: port)
/// try ICMPFault.sendNetUnreachable(port: UInt16(port), namespace: "srtrelay123")
/// ```
public enum ICMPFault {
    /// What could not be done, for the test's message.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ what: String) { description = "ICMP fault: \(what) failed or missing" }
    }

    /// Sets `IP_RECVERR` on the UDP socket of process `pid` bound to `port` (found through `/proc/<pid>/net/udp`,
    /// which shows the process's own namespace, and its descriptors), through a copy taken with `pidfd_getfd`.
    /// Looks for the socket for up to `wait`: a listener between two sockets (a restart in progress) has none.
    public static func enableErrors(process pid: Int32, port: Int, wait: Duration = .zero) throws {
        let deadline = ContinuousClock.now + wait
        var found = Result { try socketInode(process: pid, port: port) }
        while case .failure = found, ContinuousClock.now < deadline {
            usleep(10_000)
            found = Result { try socketInode(process: pid, port: port) }
        }
        let inode = try found.get()
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard
            let number = entries.first(where: {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)"))
                    == "socket:[\(inode)]"
            }).flatMap(Int32.init)
        else { throw Failure("the descriptor of socket \(inode) in process \(pid)") }
        let processDescriptor = libc("pidfd_open", as: PidfdOpen.self).map { $0(pid, 0) } ?? -1
        guard processDescriptor >= 0 else { throw Failure("pidfd_open(\(pid)): errno \(errno)") }
        defer { close(processDescriptor) }
        let copy = libc("pidfd_getfd", as: PidfdGetFD.self).map { $0(processDescriptor, number, 0) } ?? -1
        guard copy >= 0 else { throw Failure("pidfd_getfd(\(number)): errno \(errno)") }
        // The copy must not outlive this call: it would keep the port bound after the process let go of it.
        defer { close(copy) }
        var one: Int32 = 1
        guard setsockopt(copy, Int32(IPPROTO_IP), IP_RECVERR, &one, 4) == 0 else {
            throw Failure("IP_RECVERR set: errno \(errno)")
        }
    }

    /// Sends one raw ICMP type 3 code 0 to 127.0.0.1, quoting a UDP datagram from `port` to 127.0.0.77:4444; from a
    /// thread that joined `namespace` (under `/run/netns`) first, when one is named.
    public static func sendNetUnreachable(port: UInt16, namespace: String? = nil) throws {
        guard let namespace else { return try sendFromThisNamespace(port: port) }
        let result = Mutex<Result<Void, any Error>?>(nil)
        // Joining a network namespace changes only the calling thread: a thread of its own, which then ends.
        Thread.detachNewThread {
            let outcome = Result<Void, any Error> {
                let handle = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
                guard handle >= 0 else { throw Failure("network namespace \(namespace)") }
                defer { close(handle) }
                guard libc("setns", as: Setns.self).map({ $0(handle, cloneNewNet) }) == 0 else {
                    throw Failure("setns into \(namespace): errno \(errno)")
                }
                try sendFromThisNamespace(port: port)
            }
            result.withLock { $0 = outcome }
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while result.withLock({ $0 }) == nil, ContinuousClock.now < deadline { usleep(1_000) }
        guard let outcome = result.withLock({ $0 }) else { throw Failure("the ICMP sender thread's answer") }
        try outcome.get()
    }

    private static func sendFromThisNamespace(port: UInt16) throws {
        var packet = [UInt8](repeating: 0, count: 36)
        packet[0] = 3  // destination unreachable
        packet[1] = 0  // net unreachable
        // The quoted IP header: version 4, 20 bytes, UDP, 127.0.0.1 → 127.0.0.77.
        packet[8] = 0x45
        packet[11] = 44
        packet[16] = 64
        packet[17] = 17
        packet.replaceSubrange(20..<24, with: [127, 0, 0, 1])
        packet.replaceSubrange(24..<28, with: [127, 0, 0, 77])
        let ipChecksum = checksum(packet[8..<28])
        packet[18] = UInt8(ipChecksum >> 8)
        packet[19] = UInt8(ipChecksum & 0xFF)
        // The quoted UDP header: from `port` to 4444 (0x115C), 24 bytes.
        packet[28] = UInt8(port >> 8)
        packet[29] = UInt8(port & 0xFF)
        packet[30] = 0x11
        packet[31] = 0x5C
        packet[33] = 24
        let icmpChecksum = checksum(packet[0..<36])
        packet[2] = UInt8(icmpChecksum >> 8)
        packet[3] = UInt8(icmpChecksum & 0xFF)

        let raw = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))
        guard raw >= 0 else { throw Failure("a raw ICMP socket (root)") }
        defer { close(raw) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(raw, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == packet.count else { throw Failure("the ICMP packet sent") }
    }

    /// The Internet checksum of `bytes`, big-endian words.
    public static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let high = UInt32(bytes[index])
            let low = index + 1 < bytes.endIndex ? UInt32(bytes[index + 1]) : 0
            sum += high << 8 | low
            index += 2
        }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The local ports of the UDP sockets process `pid` holds (its listener's, its callers').
    public static func udpPorts(process pid: Int32) -> [Int] {
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let inodes = Set(
            entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)") }
                .filter { $0.hasPrefix("socket:[") }.map { String($0.dropFirst(8).dropLast()) })
        let table = (try? String(contentsOfFile: "/proc/\(pid)/net/udp", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").dropFirst().compactMap { line in
            let columns = line.split(separator: " ")
            guard columns.count > 9, inodes.contains(String(columns[9])),
                let port = columns[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
            else { return nil }
            return port
        }
    }

    /// The inode of the UDP socket bound to `port` in `/proc/<pid>/net/udp`.
    static func socketInode(process pid: Int32, port: Int) throws -> String {
        let table = (try? String(contentsOfFile: "/proc/\(pid)/net/udp", encoding: .utf8)) ?? ""
        let suffix = ":" + String(format: "%04X", port)
        // Columns: sl, local_address, rem_address, st, tx:rx queue, tr:when, retrnsmt, uid, timeout, inode.
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ")
            if columns.count > 9, columns[1].hasSuffix(suffix) { return String(columns[9]) }
        }
        throw Failure("a UDP socket on port \(port) in process \(pid)")
    }

    // glibc 2.36 has these; Swift's Glibc module does not declare them.
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias PidfdGetFD = @convention(c) (Int32, Int32, UInt32) -> Int32
    /// `CLONE_NEWNET` from <sched.h>, which the Glibc module leaves out.
    private static let cloneNewNet: Int32 = 0x4000_0000
    private typealias Setns = @convention(c) (Int32, Int32) -> Int32

    /// The C library's function `name`, looked up at run time.
    private static func libc<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }
}
