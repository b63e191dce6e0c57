import Foundation
import Glibc

/// Runs a process out of file descriptors, and gives them back: lowers the soft `RLIMIT_NOFILE` and fills every free
/// slot below it with a `dup` of /dev/null, so that any call that needs a new descriptor fails with EMFILE.
///
/// ```swift
/// var exhaustion = try DescriptorExhaustion(headroom: 64)
/// exhaustion.fill(leaving: 4)      // 4 free: the adapter (which keeps 8 free) fails its binds with EMFILE
/// exhaustion.release(16)            // 20 free again
/// ```
///
/// For exit tests only: it changes the whole process, and it is never undone.
struct DescriptorExhaustion {
    /// The soft limit in force now.
    private(set) var limit: Int
    /// The /dev/null duplicates that fill the table; ``release(_:)`` closes the last ones taken first.
    private(set) var fillers: [Int32] = []

    /// Lowers the soft limit to `headroom` above the highest descriptor open now.
    init(headroom: Int) throws {
        let highest = try Self.openDescriptors().max() ?? 2
        limit = Int(highest) + 1 + headroom
        try setLimit(limit)
    }

    /// The descriptors this process has open (`/proc/self/fd`; needs one free descriptor itself).
    static func openDescriptors() throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int32($0) }
    }

    /// Sets the soft limit; descriptors open above it stay open, only new ones must be below it.
    mutating func setLimit(_ value: Int) throws {
        var current = rlimit()
        getrlimit(openFilesResource, &current)
        current.rlim_cur = rlim_t(value)
        guard setrlimit(openFilesResource, &current) == 0 else {
            throw DescriptorExhaustionError(what: "setrlimit(\(value))", errno: errno)
        }
        limit = value
    }

    /// Fills every free descriptor below the limit, then frees `free` of them again; returns the errno that
    /// stopped the filling (EMFILE when all went well).
    @discardableResult
    mutating func fill(leaving free: Int = 0) -> Int32 {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { return errno }
        // The loop ends at the limit: at most `limit` iterations.
        while fillers.count < limit {
            let copy = dup(null)
            if copy < 0 { break }
            fillers.append(copy)
        }
        let stopped = errno
        fillers.append(null)
        release(free)
        return stopped
    }

    /// Closes `count` fillers, so that `count` descriptors are free below the limit again.
    mutating func release(_ count: Int) {
        for _ in 0..<min(count, fillers.count) { close(fillers.removeLast()) }
    }
}

/// `RLIMIT_NOFILE` as `getrlimit` takes it on Glibc (an enum there).
private let openFilesResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

struct DescriptorExhaustionError: Error, CustomStringConvertible {
    let what: String
    let errno: Int32
    var description: String { "\(what) failed: errno \(errno) (\(String(cString: strerror(errno))))" }
}
