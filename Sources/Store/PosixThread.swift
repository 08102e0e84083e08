#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable OS thread running one closure.
///
/// A dedicated thread, not a task or a dispatch queue: the journal's fsync
/// blocks for milliseconds, and must not hold up a cooperative pool or the
/// libwebsockets service thread.
final class PosixThread {
    private final class Body {
        let name: String
        let run: @Sendable () -> Void
        init(name: String, run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }

    #if canImport(Glibc)
    private let thread: pthread_t
    #else
    private let thread: pthread_t?
    #endif
    private var joined = false

    /// Starts `run` on a new thread.
    /// - Parameter name: the thread's name where the platform lets Swift set
    ///   it (Darwin; glibc hides `pthread_setname_np` behind `_GNU_SOURCE`).
    init(name: String, _ run: @escaping @Sendable () -> Void) {
        // Retained here, released exactly once by the new thread.
        let context = Unmanaged.passRetained(Body(name: name, run: run)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
            body.run()
            return nil
        }, context)
        #else
        var thread: pthread_t?
        let rc = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
            _ = pthread_setname_np(body.name)
            body.run()
            return nil
        }, context)
        #endif
        precondition(rc == 0, "pthread_create failed: \(rc)")
        self.thread = thread
    }

    /// Waits for the thread to finish. Call once, never from the thread itself.
    func join() {
        guard !joined else { return }
        joined = true
        #if canImport(Glibc)
        pthread_join(thread, nil)
        #else
        if let thread { pthread_join(thread, nil) }
        #endif
    }
}
