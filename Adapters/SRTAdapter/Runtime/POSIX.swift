#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// C library calls under names that no method shadows: inside a type with a `close()` of its own, a plain
/// `close(fd)` finds the method, and `Glibc.close` would not build on Darwin.
enum POSIX {
    /// `close(2)`; returns 0 or the errno.
    @discardableResult
    static func closeDescriptor(_ descriptor: Int32) -> Int32 {
        close(descriptor) == 0 ? 0 : errno
    }

    /// The device and inode `descriptor` refers to, `nil` when it is not open: tells whether a number still names
    /// the socket it named before, or was closed and reused since.
    static func fileIdentity(of descriptor: Int32) -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }
}
