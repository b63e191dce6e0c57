import Foundation
import Testing

@testable import srt_relay

extension InProcessRecordingIO {
    /// Attacks on the free-space measurement's bound when the disk does not answer: the watch measures every
    /// ``DiskSpaceWatch/period`` and gives each measurement up after ``DiskSpaceGuard/measureLimit``, whatever is still
    /// held. In process, on an ext4 volume made for the test and frozen (`fsfreeze`).
    @Suite(
        "srt-relay free-space watch on a disk that stalls",
        .enabled(if: getuid() == 0, "mounts a file system: needs root"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/fsfreeze"), "needs fsfreeze"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/losetup"), "needs losetup"),
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4"), "needs mkfs.ext4"))
    struct DiskSpaceWatchAttackTests {
        @Test(
            "a frozen disk whose recordings directory was removed: the watch's measurements stay within the cap",
            .timeLimit(.minutes(1)))
        func measurementsPileUp() async throws {
            let disk = try await ThinDisk()
            defer { disk.unmount() }
            // Removed (never made here): the measurement creates it again, and `mkdir` waits for a frozen disk.
            let space = DiskSpaceGuard(directory: "\(disk.path)/recordings", threshold: .standard)
            let before = RecordingIO.stalledCalls
            try await ThinDisk.run("/usr/sbin/fsfreeze", ["-f", disk.path])
            // Thawed before the unmount, also when an expectation below fails.
            defer { Self.thaw(disk.path) }
            // What DiskSpaceWatch.run does: a measurement, then a period's pause; 6 rounds (about 7.5 s).
            var failures: [String] = []
            for _ in 0..<6 {
                if case .failure(let error) = await space.check() { failures.append("\(error)") }
                try await Task.sleep(for: DiskSpaceWatch.period)
            }
            let held = RecordingIO.stalledCalls - before
            print("free-space watch on a frozen disk: \(held) calls held after 6 measurements; \(Set(failures))")
            Self.thaw(disk.path)
            // The disk answers: every call held ends.
            let deadline = ContinuousClock.now + .seconds(10)
            while RecordingIO.stalledCalls > before && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(RecordingIO.stalledCalls <= before, "the calls held end once the disk answers")
            #expect(failures.count == 6, "every measurement waited for the frozen disk")
            // Docs/srt-relay.md: at most RecordingIO.maximumStalledCalls (4) calls outstanding; a measurement that
            // finds them all held is never submitted, so a watch that goes on measuring adds no call past the cap.
            #expect(
                held <= RecordingIO.maximumStalledCalls,
                "\(held) measurements held by a stalled disk, documented at most \(RecordingIO.maximumStalledCalls)")
        }

        /// `fsfreeze -u`, waited for at most 5 s (blocking: it runs in `defer` too); thawing twice is harmless.
        private static func thaw(_ path: String) {
            guard let process = try? TestProcess("/usr/sbin/fsfreeze", ["-u", path]) else { return }
            for _ in 0..<500 where process.exitedAt == nil { usleep(10_000) }
        }
    }
}
