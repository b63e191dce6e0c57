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

    /// `write(2)`: the count written, or -1 with `errno` set.
    static func writeDescriptor(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        write(descriptor, bytes, count)
    }
}
