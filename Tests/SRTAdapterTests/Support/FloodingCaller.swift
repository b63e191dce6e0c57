import Foundation
import Synchronization

/// A hostile peer: `srt-live-transmit` publishing stdin to `url` with credentials the listener rejects. Fed a
/// 1316-byte chunk every millisecond, it reconnects at once after every rejection (its `-a` default), each
/// handshake passing the listen callback before libsrt checks its passphrase. Killed by its pid
/// when stopped or released.
///
/// ```swift
/// let attacker = try FloodingCaller(url: "srt://127.0.0.1:\(port)?mode=caller&passphrase=wrong-passphrase")
/// defer { attacker.stop() }
/// _ = await TestSupport.eventually { attacker.rejections >= 10 }   // "Incorrect passphrase" lines it printed
/// ```
final class FloodingCaller: Sendable {
    static let tool = "/usr/bin/srt-live-transmit"

    /// What the feeding and reading threads share with it (they must not keep it alive: its deinit kills the child).
    private final class Shared: Sendable {
        let stopped = Atomic(false)
        let errorText = Mutex<[UInt8]>([])
    }

    private let child: ChildProcess
    private let shared = Shared()

    init(url: String) throws {
        child = try ChildProcess(Self.tool, ["-q", "file://con", url])
        let (child, shared) = (self.child, self.shared)
        // Threads of their own: a full pipe blocks the writer, and the reader blocks until the child ends.
        Thread.detachNewThread {
            let writer = child.standardInput.fileHandleForWriting
            let chunk = Data(repeating: 0x47, count: 1316)
            // Bounded: a minute at most, and it ends with the child (the write fails) or with stop().
            for _ in 0..<60_000 where !shared.stopped.load(ordering: .relaxed) {
                do { try writer.write(contentsOf: chunk) } catch { return }
                usleep(1_000)
            }
        }
        Thread.detachNewThread {
            let reader = child.standardError.fileHandleForReading
            while true {
                let data = reader.availableData
                if data.isEmpty { return }
                shared.errorText.withLock { $0 += data }
            }
        }
    }

    /// How many rejections for a wrong or missing passphrase it has reported so far.
    var rejections: Int {
        let text = String(decoding: shared.errorText.withLock { $0 }, as: UTF8.self)
        return text.components(separatedBy: "Incorrect passphrase").count - 1
            + text.components(separatedBy: "Password required").count - 1
    }

    /// Kills it by its pid; idempotent.
    func stop() {
        shared.stopped.store(true, ordering: .relaxed)
        child.terminate()
    }

    deinit { stop() }
}
