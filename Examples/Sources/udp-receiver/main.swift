// A supervised UDP receiver on 127.0.0.1:<port>: prints the size of every datagram. If binding fails because the
// port is taken, it backs off and tries again until the port is free; a permission error ends the program. The
// resource itself, written against the core alone, is in UDPReceiver.swift.
import Logging
import ServiceLifecycle
import Supervisor

let port = CommandLine.arguments.dropFirst().first.flatMap(UInt16.init) ?? 9000
let logger = Logger(label: "udp-receiver")
let supervisor = ResourceSupervisor(
    UDPReceiver(port: port) { datagram in print("\(datagram.count) bytes") }, name: "udp-receiver",
    policy: try RestartPolicy(backoff: .exponential(maximum: .seconds(5)).jitter(.full)), logger: logger)
let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
