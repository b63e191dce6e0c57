import Foundation
import Synchronization

/// An ext4 file system whose blocks are promised but not there: a sparse 256 MiB image on a 16 MiB tmpfs,
/// loop-mounted. Once ``exhaust()`` fills the tmpfs, writes still succeed (into the page cache: ext4 sees
/// plenty of space) but writing them back fails, so `fsync` reports the error for real, as a thin-provisioned
/// volume does. ``unmount()`` (idempotent, also at `deinit`) unmounts both and frees the loop device.
///
/// ```swift
/// let disk = try await ThinDisk()
/// defer { disk.unmount() }
/// try disk.exhaust()          // fsync on disk.path now fails with ENOSPC or EIO
/// ```
final class ThinDisk: Sendable {
    /// Where the ext4 file system is mounted.
    let path: String
    private let backing: SmallFileSystem
    private let device: String
    private let mounted = Locked(true)

    init() async throws {
        backing = try SmallFileSystem(size: 16 << 20)
        let image = "\(backing.path)/image"
        let descriptor = open(image, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0, ftruncate(descriptor, 256 << 20) == 0 else { throw ThinDiskError("sparse image") }
        close(descriptor)
        // No journal, no discard, inode tables written lazily: the image takes a few hundred KiB of the tmpfs.
        try await Self.run(
            "/usr/sbin/mkfs.ext4", ["-q", "-F", "-E", "nodiscard,lazy_itable_init=1", "-O", "^has_journal", image])
        device = try await Self.run("/usr/sbin/losetup", ["-f", "--show", image], printsLine: true)
        path = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-thin-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount(device, path, "ext4", 0, nil) == 0 else {
            let code = errno
            _ = try? await Self.run("/usr/sbin/losetup", ["-d", device])
            rmdir(path)
            throw ThinDiskError("mount \(device): \(String(cString: strerror(code)))")
        }
    }

    /// Takes every byte of the tmpfs under the image: blocks ext4 has not written yet can no longer be stored.
    func exhaust() throws {
        try backing.fill(named: "filler")
    }

    /// Unmounts the ext4 file system, frees the loop device, unmounts the tmpfs.
    func unmount() {
        let wasMounted = mounted.state.withLock { mounted in
            defer { mounted = false }
            return mounted
        }
        guard wasMounted else { return }
        // Lazily if a killed child still holds a file there; the loop device is then freed when it lets go.
        if umount2(path, 0) != 0 { _ = umount2(path, Int32(MNT_DETACH)) }
        rmdir(path)
        if let detach = try? TestProcess("/usr/sbin/losetup", ["-d", device]) {
            // Blocking, bounded: cleanup runs in `defer` and `deinit`.
            for _ in 0..<500 where detach.exitedAt == nil { usleep(10_000) }
        }
        backing.unmount()
    }

    deinit { unmount() }

    /// Runs a tool to its end (at most 30 s); its standard output, trimmed; throws when it failed.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], printsLine: Bool = false) async throws -> String {
        let process = try TestProcess(tool, arguments)
        defer { process.terminate() }
        let status = await process.exitStatus(within: .seconds(30))
        guard status == 0 else {
            throw ThinDiskError("\(tool) \(arguments.joined(separator: " ")): \(await process.standardErrorAtExit())")
        }
        // The reader thread may still be behind the exit: its standard error is read to the end first.
        _ = await process.standardErrorAtExit()
        for _ in 0..<100 where printsLine && process.lines.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        return process.lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct ThinDiskError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
