import Foundation
import Synchronization
import Testing

@testable import srt_relay

extension InProcessRecordingIO {
    /// Attacks on the bound of calls a stalled disk may hold: publishers that arrive together while the disk does not
    /// answer. In process: the recording's file name is chosen inside the file system call that creates it, so a name
    /// that blocks until released stands for an `open` that a frozen disk (or a hung NFS server) does not answer.
    @Suite("srt-relay recordings on a disk that stalls, in process", .serialized)
    struct RecordingStallAttackTests {
        /// Holds every call that reaches it until ``open()``, at most 20 s.
        private final class Gate: Sendable {
            private let opened = Atomic(false)

            func wait() {
                let deadline = ContinuousClock.now + .seconds(20)
                // Bounded in time: a test that fails still lets its calls go.
                while !opened.load(ordering: .relaxed) && ContinuousClock.now < deadline { usleep(2000) }
            }

            func open() {
                opened.store(true, ordering: .relaxed)
            }
        }

        @Test(
            "12 publishers while the disk stalls: no more than maximumStalledCalls calls are held, as documented",
            .timeLimit(.minutes(1)))
        func publishersTogetherDuringAStall() async throws {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("stall-attack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let gate = Gate()
            defer { gate.open() }
            var options = RecordingOptions()
            options.startLimit = .milliseconds(300)
            let publishers = 12
            let before = RecordingIO.stalledCalls
            // All arrive within the first start limit of the stall, as a reconnecting fleet (or a flood) does.
            let outcomes = await withTaskGroup(of: String.self) { group in
                for index in 0..<publishers {
                    let options = options
                    group.addTask {
                        do {
                            let recorder = try await FileRecorder.create(
                                in: directory, options: options,
                                name: { counter, _ in
                                    gate.wait()
                                    return "publisher\(index)-\(counter).ts"
                                }, report: { _ in })
                            try? await recorder.close(within: .seconds(1))
                            return "opened"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                var outcomes: [String] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            // Every publisher was refused; the calls given up still wait for the disk.
            let held = RecordingIO.stalledCalls - before
            print("12 publishers on a stalled disk: \(held) calls held; \(Set(outcomes))")
            gate.open()
            // The disk answers: every call held ends, and its file is removed.
            let deadline = ContinuousClock.now + .seconds(10)
            while RecordingIO.stalledCalls > before && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(RecordingIO.stalledCalls <= before, "the calls held end once the disk answers")
            #expect(!outcomes.contains("opened"), "no recording starts on a disk that does not answer")
            // RecordingIO.maximumStalledCalls: a start holds a slot from its submission, so publishers of the same
            // start-limit window find the slots held and are refused without submitting a call.
            #expect(
                held <= RecordingIO.maximumStalledCalls,
                "\(held) file system calls held by a stalled disk, documented at most \(RecordingIO.maximumStalledCalls)"
            )
        }
    }
}
