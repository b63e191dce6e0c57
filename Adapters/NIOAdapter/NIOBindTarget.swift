import NIOCore
import NIOPosix
import Supervisor
import Synchronization

/// Where a channel binds, and the port its first bind got: a host (an IP literal or a name, resolved at every start
/// by ``NameResolver``, never on the caller's task) or an address already resolved, and a port, where 0
/// means "any port, once": every bind after the first asks for the port the first one got.
///
/// ```swift
/// let target = try NIOBindTarget(host: "localhost", port: 0)
/// let channel = try await ServerBootstrap(group: group).bind(to: try await target.address()).get()
/// target.bound(channel)  // a restart binds this port again
/// ```
final class NIOBindTarget: Sendable {
    private enum Place {
        case host(String)
        case address(SocketAddress)
    }

    /// The host as configured: the name or literal, or the resolved address's IP.
    let host: String
    /// The port as configured; 0 for any.
    let port: Int
    private let place: Place
    /// The port of the last channel bound, nil before the first.
    private let lastPort = Mutex<Int?>(nil)

    /// - Throws: `ConfigurationError` unless `port` is in 0...65535 and `host` is not empty.
    init(host: String, port: Int) throws(ConfigurationError) {
        guard (0...65_535).contains(port) else {
            throw ConfigurationError(.outOfRange, option: "port", "must be 0 to 65535, got \(port)")
        }
        guard !host.isEmpty else {
            throw ConfigurationError(.outOfRange, option: "host", "must be an IP literal or a host name, got \"\"")
        }
        self.host = host
        self.port = port
        self.place = .host(host)
    }

    init(address: SocketAddress) {
        self.host = address.ipAddress ?? "\(address)"
        self.port = address.port ?? 0
        self.place = .address(address)
    }

    /// The port the last bind got (the one every later bind asks for); nil before the first.
    var boundPort: Int? {
        lastPort.withLock { $0 }
    }

    /// `scheme://host:port`, as configured, for errors and logs.
    func description(scheme: String) -> String {
        "\(scheme)://\(host):\(port)"
    }

    /// The address to bind now, with the port the first bind got once there was one.
    ///
    /// - Throws: what resolving the host threw (`SocketAddressError`, `NameResolver.TooManyResolutions`), or
    ///   `CancellationError` if the task was cancelled before the resolver returned.
    func address() async throws -> SocketAddress {
        let port = boundPort ?? self.port
        switch place {
        case .address(var address):
            // A Unix socket's address has no port (and setting one traps).
            if address.port != nil { address.port = port }
            return address
        case .host(let host):
            // An IP literal needs no resolver.
            if let literal = try? SocketAddress(ipAddress: host, port: port) { return literal }
            // getaddrinfo blocks (for seconds while a DNS server does not answer): never on a task's thread.
            return try await NameResolver.resolve(host, port: port)
        }
    }

    /// Remembers the port `channel` got, for the binds to come.
    func bound(_ channel: any Channel) {
        guard let port = channel.localAddress?.port else { return }
        lastPort.withLock { $0 = port }
    }
}
