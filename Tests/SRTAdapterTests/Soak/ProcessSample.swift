import Foundation

/// Open descriptors, threads and resident memory of this process at one moment (`/proc/self`), with what libsrt
/// keeps of each dead receive thread counted apart.
///
/// libsrt 1.5.1 never frees a multiplexer whose receive thread died while it carried connections: only that thread
/// takes a socket off its receive list (`queue.cpp`, `CRcvQueue::worker`), and the garbage collector waits for it
/// forever. Each such death keeps the retired UDP descriptor (now /dev/null, see `SRTListenSocket.retire()`), the
/// multiplexer's send thread and the sockets' buffers. The soak counts those apart ("retired"), so that anything
/// else that grows is the adapter's.
struct ProcessSample: Sendable, CustomStringConvertible {
    /// Every open descriptor.
    let descriptors: Int
    /// Descriptors on /dev/null: retired UDP sockets (and whatever the process had on /dev/null from the start).
    let nullDescriptors: Int
    /// Every thread.
    let threads: Int
    /// libsrt send threads ("SRT:SndQ…") without a receive thread ("SRT:RcvQ…"): one per dead multiplexer.
    let orphanedSendThreads: Int
    let residentBytes: Int

    /// Descriptors other than those on /dev/null.
    var liveDescriptors: Int { descriptors - nullDescriptors }
    /// Threads other than the orphaned send threads.
    var liveThreads: Int { threads - orphanedSendThreads }
    var residentMiB: Int { residentBytes / 1_048_576 }

    static func now() -> ProcessSample {
        let files = FileManager.default
        let descriptors = (try? files.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        let null = descriptors.count {
            (try? files.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == "/dev/null"
        }
        let names = ((try? files.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).map { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
        }
        let senders = names.count { $0.hasPrefix("SRT:SndQ") }
        let receivers = names.count { $0.hasPrefix("SRT:RcvQ") }
        return ProcessSample(
            descriptors: descriptors.count, nullDescriptors: null, threads: names.count,
            orphanedSendThreads: max(0, senders - receivers), residentBytes: HandshakeFloodScenario.residentBytes())
    }

    /// The lowest live counts read every 100 ms for up to `limit`, stopping early once both are at or below
    /// `target`'s.
    ///
    /// libsrt releases a closed socket's UDP descriptor and its two threads in its garbage collector, a second or
    /// two after the close, and Dispatch keeps an idle worker thread for a while; one reading may catch either in
    /// flight. A leak stays, whatever the wait.
    static func settled(atMost target: ProcessSample? = nil, within limit: Duration) async -> ProcessSample {
        let deadline = ContinuousClock.now + limit
        var lowest = now()
        while ContinuousClock.now < deadline {
            if let target, lowest.liveDescriptors <= target.liveDescriptors, lowest.liveThreads <= target.liveThreads {
                break
            }
            try? await Task.sleep(for: .milliseconds(100))
            let sample = now()
            if sample.liveDescriptors + sample.liveThreads < lowest.liveDescriptors + lowest.liveThreads {
                lowest = sample
            }
        }
        return lowest
    }

    var description: String {
        "\(liveDescriptors) fds (+\(nullDescriptors) on /dev/null), \(liveThreads) threads "
            + "(+\(orphanedSendThreads) orphaned send threads), \(residentMiB) MiB resident"
    }
}
