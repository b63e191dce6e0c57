import Foundation
import Synchronization

/// A tmpfs of a few MiB mounted for one test, so that a full disk is real and the machine's disk is never
/// touched; ``unmount()`` (idempotent, also at `deinit`) detaches it even while files are open.
///
/// ```swift
/// let disk = try SmallFileSystem(size: 4 << 20)
/// defer { disk.unmount() }
/// try disk.fill(named: "filler")         // every byte taken: the next write fails with ENOSPC
/// disk.remove("filler")                   // space again
/// ```
final class SmallFileSystem: Sendable {
    let path: String
    private let mounted = Locked(true)

    /// Mounts a tmpfs of `size` bytes on a new directory under the temporary directory (needs root).
    init(size: Int) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("srt-relay-disk-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size),mode=0755") == 0 else {
            let code = errno
            rmdir(path)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EPERM)
        }
    }

    /// The bytes free now.
    var available: Int {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return 0 }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    /// Creates `name` and writes to it until the file system is full (ENOSPC), leaving `leaving` bytes free at
    /// most; returns its size.
    @discardableResult
    func fill(named name: String, leaving: Int = 0) throws -> Int {
        let descriptor = open("\(path)/\(name)", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        let page = [UInt8](repeating: 0xF1, count: 4096)
        var total = 0
        // Bounded by the size of the file system: a tmpfs of a few MiB takes at most a few thousand pages.
        for _ in 0..<(1 << 20) {
            let room = available - leaving
            guard room > 0 else { break }
            let written = write(descriptor, page, min(page.count, room))
            guard written > 0 else { break }
            total += written
        }
        return total
    }

    func remove(_ name: String) {
        unlink("\(path)/\(name)")
    }

    /// Unmounts (lazily, so that files a killed child still held do not keep it) and removes the directory.
    func unmount() {
        let wasMounted = mounted.state.withLock { mounted in
            defer { mounted = false }
            return mounted
        }
        guard wasMounted else { return }
        if umount2(path, 0) != 0 { _ = umount2(path, Int32(MNT_DETACH)) }
        rmdir(path)
    }

    deinit { unmount() }
}
