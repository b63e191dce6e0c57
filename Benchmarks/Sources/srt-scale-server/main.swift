// The adapter's side of Benchmarks/srt-scale/run.sh (see Docs/benchmarks.md, "SRT connection scale and accept
// rate"): one SRTServer on 127.0.0.1, port chosen by the kernel and printed as "READY port=P".
//
//   srt-scale-server scale CONNECTIONS MESSAGES [DEADLINE_S]   callers.c's streams: loss, threads, memory
//   srt-scale-server accept CONNECTIONS BACKLOG [DEADLINE_S]   connector.c's connections: accept instants, CPU
import Logging
import SRTAdapter

let arguments = Array(CommandLine.arguments.dropFirst())
let numbers = arguments.dropFirst().compactMap { Int($0) }
// libsrt's own errors on standard error; everything the script reads is on standard output.
SRTRuntime.start(logger: Logger(label: "srt", factory: { StreamLogHandler.standardError(label: $0) }), logLevel: .error)
var status: Int32 = 2
do {
    switch (arguments.first, numbers.count) {
    case ("scale", 2...3) where numbers[0] > 0 && numbers[1] > 0:
        status = try await ScaleRun.run(
            connections: numbers[0], messages: numbers[1], deadline: .seconds(numbers.count > 2 ? numbers[2] : 120))
    case ("accept", 2...3) where numbers[0] > 0 && numbers[1] > 0:
        status = try await AcceptRun.run(
            connections: numbers[0], backlog: numbers[1], deadline: .seconds(numbers.count > 2 ? numbers[2] : 60))
    default:
        print(
            "usage: srt-scale-server scale CONNECTIONS MESSAGES [DEADLINE_S] | accept CONNECTIONS BACKLOG [DEADLINE_S]")
    }
} catch {
    print("FAIL \(error)")
    status = 1
}
SRTRuntime.exit(status)
