#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with one condition variable.
///
/// Plain pthreads rather than Foundation's `NSCondition`: the hub's sources
/// do not link Foundation, and this is all the writer needs. Both objects
/// live on the heap because pthread objects must not move in memory.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        let mutexOK = pthread_mutex_init(mutex, nil)
        let conditionOK = pthread_cond_init(condition, nil)
        precondition(mutexOK == 0 && conditionOK == 0, "pthread_mutex_init/pthread_cond_init failed")
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }

    /// Atomically unlocks, sleeps until signalled, relocks. Callers loop on
    /// their predicate: wake-ups may be spurious.
    func wait() {
        let rc = pthread_cond_wait(condition, mutex)
        precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
    }

    /// Like `wait()`, but gives up after `seconds`; true when it timed out.
    /// (The deadline is on the wall clock, pthread's default: a clock step
    /// only makes one wait shorter or longer.)
    func wait(seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let total = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + seconds
        var deadline = timespec()
        deadline.tv_sec = Int(total)
        deadline.tv_nsec = Int((total - Double(Int(total))) * 1e9)
        return pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT
    }

    /// Wakes one waiter; may be called without holding the mutex.
    func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes every waiter (there is one writer thread, plus `close()` callers).
    func broadcast() {
        pthread_cond_broadcast(condition)
    }

    /// Runs `body` holding the mutex.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
