#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A POSIX thread of its own for work that may block for long (a write to a reader that stalls, an fsync of a
/// slow disk), detached: nobody joins it.
///
/// ```swift
/// guard DetachedThread.start({ drain() }) else { return }   // out of threads
/// ```
enum DetachedThread {
    /// Runs `body` on a new detached thread; `false` when none could be made.
    static func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        final class Body {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                // The argument is the box passed below, never nil.
                Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}
