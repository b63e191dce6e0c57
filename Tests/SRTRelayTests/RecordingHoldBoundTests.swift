import Foundation
import SRTAdapter
import Testing

@testable import srt_relay

extension InProcessRecordingIO {
    /// How much a recording holds while its disk takes nothing: a span of its stream, measured at the rate it came
    /// in, between a floor and a ceiling. In process, on a real tmpfs that the test fills (ENOSPC).
    @Suite("srt-relay recordings hold a span of their stream while the disk is full", .serialized)
    struct RecordingHoldBoundTests {
        private static let message = [UInt8](repeating: 0x47, count: 1316)

        /// Records at `bytesPerSecond` onto a tmpfs, fills it after 1.2 s and goes on at the same pace until the
        /// recording refuses a message (the bound is measured as the messages arrive, so the pace must not change);
        /// returns the bytes it took after the fill.
        private static func takenAfterTheDiskFilled(bytesPerSecond: Int, options: RecordingOptions) async throws -> Int
        {
            // Room for the 1.2 s before the fill and a little more: the fill, which stalls the pacer, is short.
            let disk = try SmallFileSystem(size: bytesPerSecond * 13 / 10 + (4 << 20))
            defer { disk.unmount() }
            let recorder = try await FileRecorder.create(
                in: disk.path, options: options, name: { counter, _ in "held-\(counter).ts" }, report: { _ in })
            // Paced by the clock, catching up after a late wake-up: the recorder measures what really came.
            let started = ContinuousClock.now
            var (sent, taken, filled) = (0, 0, false)
            // Bounded in time: the largest bound the test sets is reached within 2 s of the fill.
            pacing: while ContinuousClock.now - started < .seconds(5) {
                if !filled && ContinuousClock.now - started >= .milliseconds(1200) {
                    try disk.fill(named: "filler")
                    filled = true
                }
                let due = Int(Units.seconds(ContinuousClock.now - started) * Double(bytesPerSecond))
                while sent < due {
                    do {
                        try recorder.write(Self.message)
                    } catch {
                        #expect(filled, "refused before the disk was full: \(error)")
                        #expect(error.kind == .heldTooMuch, "\(error)")
                        break pacing
                    }
                    sent += Self.message.count
                    if filled { taken += Self.message.count }
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            try? await recorder.close(within: .milliseconds(200))
            return taken
        }

        /// Options with a floor that the first second cannot reach on a loaded machine (the bound is the floor until
        /// the writer has measured a rate, and the writer may lag a few hundred milliseconds), and a ceiling.
        private static func options(floor: Int, ceiling: Int) -> RecordingOptions {
            var options = RecordingOptions()
            options.minHeldBytes = floor
            options.maxHeldBytes = ceiling
            options.heldTime = .seconds(1)
            options.fsyncInterval = nil
            return options
        }

        @Test(
            "a stream of 8 MB/s holds about 8 MB: more than the floor, less than the ceiling", .timeLimit(.minutes(1)))
        func holdFollowsTheRate() async throws {
            let taken = try await Self.takenAfterTheDiskFilled(
                bytesPerSecond: 8_000_000, options: Self.options(floor: 4 << 20, ceiling: 16 << 20))
            print("8 MB/s, disk full: \(taken) bytes taken before the recording ended")
            // At most one chunk (256 KiB) waited when the disk filled; a late pacer only lowers the rate measured.
            #expect(taken > 5 << 20, "held \(taken) bytes: the bound did not follow the stream's rate")
            // The fastest quarter of the last four: a pacer that wakes late and catches up makes one quarter faster.
            #expect(taken <= 11_000_000, "held \(taken) bytes: far more than a second of an 8 MB/s stream")
        }

        @Test(
            "a batch that crosses the bound: the messages that fit are taken and counted, the rest refused",
            .timeLimit(.minutes(1)))
        func batchAtTheBound() async throws {
            let disk = try SmallFileSystem(size: 4 << 20)
            defer { disk.unmount() }
            try disk.fill(named: "filler")
            let options = Self.options(floor: 1 << 20, ceiling: 4 << 20)
            let recorder = try await FileRecorder.create(
                in: disk.path, options: options, name: { counter, _ in "batch-\(counter).ts" }, report: { _ in })
            let batch = SRTMessageBatch(Array(repeating: Self.message, count: 100))
            var taken = 0
            var refused: SinkError?
            // Bounded: 1 MiB is 8 batches of 131,600 bytes.
            for _ in 0..<20 where refused == nil {
                do throws(SinkError) {
                    try recorder.write(contentsOf: batch, taken: &taken)
                } catch {
                    refused = error
                }
            }
            try? await recorder.close(within: .milliseconds(200))
            print(
                "batches of 100 messages into a full disk, floor 1 MiB: \(taken) bytes taken; \(refused.map { "\($0)" } ?? "")"
            )
            #expect(refused?.kind == .heldTooMuch)
            // Whole messages, up to the bound: the crossing batch gave what fit, not nothing and not all.
            #expect(taken % Self.message.count == 0)
            // Plus what the filled tmpfs still took (less than a page).
            #expect(taken <= (1 << 20) + 4096)
            #expect(taken > (1 << 20) - Self.message.count)
        }

        @Test("a stream of 24 MB/s holds the ceiling, not 24 MB", .timeLimit(.minutes(1)))
        func holdStopsAtTheCeiling() async throws {
            let taken = try await Self.takenAfterTheDiskFilled(
                bytesPerSecond: 24_000_000, options: Self.options(floor: 8 << 20, ceiling: 12 << 20))
            print("24 MB/s, disk full: \(taken) bytes taken before the recording ended")
            #expect(taken > 11 << 20, "held \(taken) bytes: the fast stream's bound fell short of the ceiling")
            // Plus what the filled tmpfs still took (less than a page: the filler stops at the last whole one).
            #expect(taken <= (12 << 20) + 4096, "held \(taken) bytes: past the 12 MiB ceiling")
        }
    }
}
