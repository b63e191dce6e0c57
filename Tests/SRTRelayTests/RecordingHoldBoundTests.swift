import Foundation
import Testing

@testable import srt_relay

extension InProcessRecordingIO {
    /// How much a recording holds while its disk takes nothing: a span of its stream, measured at the rate it came
    /// in, between a floor and a ceiling. In process, on a real tmpfs that the test fills (ENOSPC).
    @Suite("srt-relay recordings hold a span of their stream while the disk is full", .serialized)
    struct RecordingHoldBoundTests {
        private static let message = [UInt8](repeating: 0x47, count: 1316)

        /// Records at `bytesPerSecond` for 1.2 s onto a tmpfs, fills it, and feeds on until the recording refuses
        /// a message; returns the bytes it took after the fill.
        private static func takenAfterTheDiskFilled(bytesPerSecond: Int, options: RecordingOptions) async throws -> Int
        {
            let disk = try SmallFileSystem(size: 96 << 20)
            defer { disk.unmount() }
            let recorder = try await FileRecorder.create(
                in: disk.path, options: options, name: { counter, _ in "held-\(counter).ts" }, report: { _ in })
            // Paced by the clock, catching up after a late wake-up: the writer measures what really came.
            let started = ContinuousClock.now
            var sent = 0
            while ContinuousClock.now - started < .milliseconds(1200) {
                let due = Int(Units.seconds(ContinuousClock.now - started) * Double(bytesPerSecond))
                while sent < due {
                    try recorder.write(Self.message)
                    sent += Self.message.count
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            // Let the writer take and write what waits, then the disk is full.
            try await Task.sleep(for: .milliseconds(100))
            try disk.fill(named: "filler")
            var taken = 0
            // Bounded: 16 MiB more than the largest bound the test sets.
            for _ in 0..<(((options.maxHeldBytes + (16 << 20)) / Self.message.count)) {
                do {
                    try recorder.write(Self.message)
                } catch {
                    #expect(error.kind == .heldTooMuch, "\(error)")
                    break
                }
                taken += Self.message.count
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
            #expect(taken <= 8_500_000 + 4096, "held \(taken) bytes: more than a second of an 8 MB/s stream")
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
