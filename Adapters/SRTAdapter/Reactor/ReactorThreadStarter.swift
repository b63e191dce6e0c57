#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts the thread an ``SRTReactor`` runs on: a detached POSIX thread, or, in tests, one that fails the way
/// `pthread_create` does when the process is out of threads (`EAGAIN`).
struct ReactorThreadStarter: Sendable {
    /// Runs `body` on a new thread; returns 0, or the errno of a thread that could not be made (then `body` never
    /// runs).
    let start: @Sendable (_ body: @escaping @Sendable () -> Void) -> Int32

    /// A detached POSIX thread, holding `body` until it returns.
    static let posix = ReactorThreadStarter { body in
        final class Body {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            return result
        }
        pthread_detach(thread)
        return 0
    }
}
