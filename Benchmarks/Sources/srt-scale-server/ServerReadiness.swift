import SRTAdapter

/// Waits for a server's listener.
enum ServerReadiness {
    /// The port the server listens on once its supervisor reports ready, or `nil` after 10 s.
    static func port(of server: SRTServer) async -> Int? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if server.supervisor.state.isReady, let address = server.localAddress { return address.port }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
