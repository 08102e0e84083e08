#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Group commit on its own thread.
///
/// The reactor `submit`s entries and never blocks on I/O. The writer thread
/// sleeps until something is queued, takes everything queued at that moment,
/// appends it in one transaction (one fsync), moves the entries to the
/// completed list and calls `wake`. Whatever arrives while a commit is in
/// progress forms the next batch: under load one fsync serves many inputs,
/// and when idle a lone input is committed at once, with no timer to wait for.
///
/// Drops (retention compaction) travel in the same queue, so a drop is
/// executed after every append submitted before it and before every append
/// submitted after it.
///
/// ## Lock discipline (why `@unchecked Sendable` is sound)
/// - `queue`, `completed`, `dropErrors`, `closing`, `writerSleeps` and
///   `thread` are read and written only while holding `lock`.
/// - `store` is used only by the writer thread, from `init` until `close()`
///   has joined it; callers must not touch the store in that interval.
/// - `wake` is `@Sendable` and is called without holding `lock`.
public final class JournalWriter: @unchecked Sendable {
    private enum Operation {
        case append(token: Int, entry: JournalEntry)
        case drop([String])
        case snapshot(SessionSnapshot)
        /// Outbound webhook deliveries to store (Outbox.swift): committed in
        /// the same transaction as the appends around them.
        case outbox(OutboxWrite)
        case loadOutbox(enable: Bool, now: Int64)
        /// Device registry changes (Devices.swift), each its own transaction.
        case devices(DeviceWrite, token: Int)
    }

    private let store: JournalStore
    private let wake: @Sendable () -> Void
    private let lock = ConditionLock()
    private var queue: [Operation] = []
    private var commitSeconds: [Double] = []
    private var completed: [JournalCompletion] = []
    private var dropErrors: [StoreError] = []
    private var outboxLoaded: Result<OutboxLoad, StoreError>?
    private var outboxErrors: [StoreError] = []
    private var deviceCompleted: [(token: Int, error: StoreError?)] = []
    private var closing = false
    /// The writer is waiting for work and nobody has signalled it yet.
    private var writerSleeps = false
    private var thread: PosixThread?

    /// Starts the writer thread. From now on the writer owns `store`.
    /// - Parameters:
    ///   - store: where batches go (`SQLiteJournal`, or `MemoryJournal` in tests).
    ///   - wake: called on the writer thread after each batch is finished
    ///     (committed or failed); the hub passes a closure calling
    ///     `lws_cancel_service`, whose wake-up then calls `takeCompleted()`.
    public init(store: JournalStore, wake: @escaping @Sendable () -> Void) {
        self.store = store
        self.wake = wake
        let thread = PosixThread(name: "sb-journal") { [self] in self.run() }
        lock.withLock { self.thread = thread }
    }

    /// Enqueues one entry; returns at once (only a lock, never I/O).
    /// - Parameters:
    ///   - entry: what to journal.
    ///   - token: opaque to the writer; handed back in the completion so the
    ///     reactor can find the request waiting for it.
    ///
    /// After `close()`, and for an entry the journal's schema would refuse
    /// (see `JournalWriter.check`), the entry completes at once with an error.
    public func submit(_ entry: JournalEntry, token: Int) {
        // Checked here, not left to the database: one bad row fails its whole
        // transaction, and with it every other client's input in the batch.
        let invalid = JournalWriter.check(entry)
        let (rejected, mustSignal): (Bool, Bool) = lock.withLock {
            if closing || invalid != nil {
                completed.append(JournalCompletion(
                    token: token, entry: entry, error: invalid ?? StoreError(message: "journal writer is closed")))
                return (true, false)
            }
            queue.append(.append(token: token, entry: entry))
            return (false, claimWakeUp())
        }
        if rejected { wake() }
        if mustSignal { lock.signal() }
    }

    /// Queues a drop or snapshot (ignored once closing) and wakes the writer.
    private func enqueue(_ operation: Operation) {
        let mustSignal: Bool = lock.withLock {
            guard !closing else { return false }
            queue.append(operation)
            return claimWakeUp()
        }
        if mustSignal { lock.signal() }
    }

    /// Whether the caller must signal the writer; call holding the lock,
    /// signal after unlocking.
    ///
    /// One wake-up per sleep, however many operations arrive before the
    /// writer runs, and sent after unlocking so the woken writer finds the
    /// mutex free: signalling under the lock on every submit cost the
    /// reactor two `futex` calls per input (BENCHMARKS.md).
    private func claimWakeUp() -> Bool {
        defer { writerSleeps = false }
        return writerSleeps
    }

    /// Why the journal would refuse `entry`, or nil: session ids of 1-128
    /// characters (PROTOCOL.md §1, counted as SQLite counts them: Unicode
    /// scalars) and a non-empty epoch. The hub validates ids before this;
    /// the check keeps a bug there from failing other clients' inputs.
    public static func check(_ entry: JournalEntry) -> StoreError? {
        let length = entry.sessionId.unicodeScalars.count
        guard length >= 1 && length <= 128 else {
            return StoreError(message: "sessionId must be 1-128 characters, got \(length)")
        }
        guard !entry.epoch.isEmpty else { return StoreError(message: "epoch must not be empty") }
        return nil
    }

    /// The finished entries since the last call, in submission order, each
    /// with its token and, when its batch failed, the error. Entries refused
    /// by `submit` itself (closed writer, invalid entry) complete at once,
    /// possibly ahead of earlier ones still being committed. Call on the
    /// reactor thread after a wake (extra calls return an empty list).
    public func takeCompleted() -> [JournalCompletion] {
        lock.withLock {
            guard !completed.isEmpty else { return [] }
            let done = completed
            completed.removeAll(keepingCapacity: true)
            return done
        }
    }

    /// Queues outbox writes, in order with appends: they are committed in the
    /// same transaction as the appends queued right before and after them.
    /// Ignored for a store that keeps no outbox (`MemoryJournal`).
    public func outbox(_ write: OutboxWrite) {
        guard !write.isEmpty else { return }
        enqueue(.outbox(write))
    }

    /// Asks the writer to read the outbox (see `OutboxStore.loadOutbox`);
    /// the result comes with a wake, through `takeOutboxLoad()`.
    public func loadOutbox(enable: Bool, now: Int64) {
        enqueue(.loadOutbox(enable: enable, now: now))
    }

    /// Queues a device registry write; its result comes with a wake,
    /// through `takeDeviceCompletions()`. A store without a registry
    /// (`MemoryJournal`) completes it at once without storing.
    public func devices(_ write: DeviceWrite, token: Int) {
        // After close() nothing more is stored: answer at once rather than never.
        let (refused, mustSignal): (Bool, Bool) = lock.withLock {
            if closing {
                deviceCompleted.append((token, StoreError(message: "journal writer is closed")))
                return (true, false)
            }
            queue.append(.devices(write, token: token))
            return (false, claimWakeUp())
        }
        if refused { wake() }
        if mustSignal { lock.signal() }
    }

    /// Finished device writes since the last call: the token given to
    /// `devices(_:token:)` and the error when it was not stored.
    public func takeDeviceCompletions() -> [(token: Int, error: StoreError?)] {
        lock.withLock {
            defer { deviceCompleted.removeAll() }
            return deviceCompleted
        }
    }

    /// The outbox read asked for by `loadOutbox`, once (nil before it is done).
    public func takeOutboxLoad() -> Result<OutboxLoad, StoreError>? {
        lock.withLock {
            defer { outboxLoaded = nil }
            return outboxLoaded
        }
    }

    /// Failed outbox-only commits since the last call (outbox writes that
    /// shared a transaction with entries fail with those entries instead).
    public func takeOutboxErrors() -> [StoreError] {
        lock.withLock {
            defer { outboxErrors.removeAll() }
            return outboxErrors
        }
    }

    /// Asks the writer to delete these sessions, in order with appends.
    public func drop(sessions: [String]) {
        guard !sessions.isEmpty else { return }
        enqueue(.drop(sessions))
    }

    /// How long each commit since the last call took (transaction + fsync),
    /// for the commit latency histogram.
    public func takeCommitSeconds() -> [Double] {
        lock.withLock {
            defer { commitSeconds.removeAll(keepingCapacity: true) }
            return commitSeconds
        }
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Replaces a session's entries with a snapshot, in order with appends:
    /// the caller submits it only when none of the session's inputs are
    /// waiting for a commit, so it covers exactly the stored entries.
    public func snapshot(_ snapshot: SessionSnapshot) {
        enqueue(.snapshot(snapshot))
    }

    /// Errors of drops and snapshots since the last call (a failed drop
    /// leaves the sessions to the next restart's retention; a failed
    /// snapshot leaves the entries, which replay to the same state).
    /// Also delivered with a `wake`.
    public func takeMaintenanceErrors() -> [StoreError] {
        lock.withLock {
            let errors = dropErrors
            dropErrors.removeAll()
            return errors
        }
    }

    /// The journal's file sizes and maintenance ages (`/metrics`); nil for
    /// stores without files. Safe from any thread.
    public func health() -> JournalHealth? { (store as? SQLiteJournal)?.health() }

    /// Entries submitted and not yet finished (for metrics and back-pressure).
    public var pendingCount: Int {
        lock.withLock {
            queue.reduce(0) { count, operation in
                if case .append = operation { return count + 1 }
                return count
            }
        }
    }

    /// Commits everything queued, stops the thread and waits for it (shutdown).
    /// The last completions remain available through `takeCompleted()`.
    /// Later `submit`s complete at once with an error. Call from one thread.
    public func close() {
        let thread: PosixThread? = lock.withLock {
            closing = true
            lock.broadcast()
            let thread = self.thread
            self.thread = nil
            return thread
        }
        thread?.join()
    }

    deinit {
        // The thread holds `self` strongly, so a writer is only freed after
        // close() joined it; nothing to stop here.
    }

    // MARK: Writer thread

    private func run() {
        var batch: [Operation] = []
        lock.lock()
        while true {
            while queue.isEmpty && !closing {
                writerSleeps = true
                lock.wait()
            }
            writerSleeps = false
            if queue.isEmpty { break }  // closing, and everything is flushed
            // Swap instead of copy: both arrays keep their capacity.
            swap(&batch, &queue)
            lock.unlock()
            process(batch)
            batch.removeAll(keepingCapacity: true)
            lock.lock()
        }
        lock.unlock()
    }

    /// Runs of appends become one transaction each; runs of drops one drop.
    private func process(_ operations: [Operation]) {
        var index = operations.startIndex
        while index < operations.endIndex {
            switch operations[index] {
            case .append, .outbox:
                var appends: [(token: Int, entry: JournalEntry)] = []
                var write = OutboxWrite()
                scan: while index < operations.endIndex {
                    switch operations[index] {
                    case .append(let token, let entry): appends.append((token, entry))
                    case .outbox(let more): write.merge(more)
                    default: break scan
                    }
                    index += 1
                }
                commit(appends, outbox: write)
            case .loadOutbox(let enable, let now):
                index += 1
                let result: Result<OutboxLoad, StoreError>
                if let outboxStore = store as? OutboxStore {
                    do { result = .success(try outboxStore.loadOutbox(enable: enable, now: now)) } catch {
                        result = .failure(StoreError.wrapping(error))
                    }
                } else {
                    result = .success(OutboxLoad(deliveries: [], enabledAt: now))
                }
                lock.withLock { outboxLoaded = result }
                wake()
            case .devices(let write, let token):
                index += 1
                var failure: StoreError?
                if let deviceStore = store as? DeviceStore {
                    do { try deviceStore.writeDevices(write) } catch { failure = StoreError.wrapping(error) }
                }
                lock.withLock { deviceCompleted.append((token, failure)) }
                wake()
            case .snapshot(let snapshot):
                index += 1
                do { try store.snapshot(snapshot) } catch {
                    lock.withLock { dropErrors.append(StoreError.wrapping(error)) }
                    wake()
                }
            case .drop:
                var sessions: [String] = []
                while index < operations.endIndex, case .drop(let more) = operations[index] {
                    sessions.append(contentsOf: more)
                    index += 1
                }
                compact(sessions)
            }
        }
    }

    private func commit(_ appends: [(token: Int, entry: JournalEntry)], outbox write: OutboxWrite = OutboxWrite()) {
        var failure: StoreError?
        let started = JournalWriter.monotonicSeconds()
        do {
            if !write.isEmpty, let outboxStore = store as? OutboxStore {
                try outboxStore.append(appends.map(\.entry), outbox: write)
            } else if !appends.isEmpty {
                try store.append(appends.map(\.entry))
            }
        } catch {
            failure = StoreError.wrapping(error)
        }
        if appends.isEmpty {
            if let failure { lock.withLock { outboxErrors.append(failure) } }
            if failure != nil { wake() }
            return
        }
        let seconds = JournalWriter.monotonicSeconds() - started
        lock.withLock {
            commitSeconds.append(seconds)
            for (token, entry) in appends {
                completed.append(JournalCompletion(token: token, entry: entry, error: failure))
            }
        }
        wake()
    }

    private func compact(_ sessions: [String]) {
        do {
            try store.drop(sessions: sessions)
        } catch {
            lock.withLock { dropErrors.append(StoreError.wrapping(error)) }
            wake()
        }
    }
}
