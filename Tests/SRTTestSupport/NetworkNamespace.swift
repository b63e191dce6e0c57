import Foundation

/// A private network namespace with only `lo` in it, up, that lives as long as this value: processes started with
/// ``command(_:_:)`` run there, and nothing they send leaves it. Needs root and iproute2 (``Prerequisite/namespaces``).
///
/// ```swift
/// let namespace = try NetworkNamespace("relayicmp")
/// defer { namespace.delete() }
/// let (executable, arguments) = namespace.command("/usr/bin/srt-live-transmit", ["udp://:5000", "file://con"])
/// ```
public final class NetworkNamespace: Sendable {
    /// Its name under `/run/netns`: the prefix and this process's id, so that test runs at once never share one.
    public let name: String

    public init(_ prefix: String) throws {
        name = "\(prefix.prefix(8))\(getpid())"
        try Self.ip(["netns", "add", name])
        do {
            try Self.ip(["netns", "exec", name, "ip", "link", "set", "lo", "up"])
        } catch {
            delete()
            throw error
        }
    }

    /// The executable and arguments that run `executable` in this namespace (`ip netns exec` becomes it, so the
    /// process's id is the executable's).
    public func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        ("/usr/sbin/ip", ["netns", "exec", name, executable] + arguments)
    }

    /// Runs `ip -n NAME` with `arguments` (bounded to 10 s): `namespace.ip(["link", "set", "veth0", "down"])`.
    public func ip(_ arguments: [String]) throws {
        try Self.ip(["-n", name] + arguments)
    }

    /// Joins `self` and `other` with a veth pair, `address` on this end and `otherAddress` on the other (CIDR, such
    /// as `192.0.2.1/24`), both up. Each end is named `veth0` in its namespace; the pair goes with the namespaces.
    public func link(address: String, to other: NetworkNamespace, otherAddress: String) throws {
        try Self.ip([
            "link", "add", "veth0", "netns", name, "type", "veth", "peer", "name", "veth0", "netns", other.name,
        ])
        for (namespace, address) in [(self, address), (other, otherAddress)] {
            try namespace.ip(["addr", "add", address, "dev", "veth0"])
            try namespace.ip(["link", "set", "veth0", "up"])
        }
    }

    /// Deletes the namespace; its processes' sockets go with their processes.
    public func delete() {
        try? Self.ip(["netns", "del", name])
    }

    /// What `ip` could not do.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `ip` with `arguments`, bounded to 10 s.
    static func ip(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        let hung = process.isRunning
        if hung {
            process.terminate()
            process.waitUntilExit()
        }
        guard !hung, process.terminationStatus == 0 else {
            throw Failure(description: "ip \(arguments.joined(separator: " ")) failed")
        }
    }
}
