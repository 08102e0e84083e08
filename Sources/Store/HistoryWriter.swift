import CallState

/// The archive's own thread: every SQLite call of `HistoryArchive` runs
/// here, never on the reactor, the way `JournalWriter` keeps the journal's.
///
/// The reactor queues writes (ended calls, quality samples, erasures,
/// pruning) and reads (history pages, series, summaries) and returns at once.
/// The thread takes everything queued, runs consecutive writes in one
/// transaction, and runs each read after the writes queued before it, so a
/// read sees every write the reactor made before asking (read-your-writes
/// without waiting). Answers go to a completed list and the thread calls
/// `wake` (the transport's `lws_cancel_service`); the reactor then takes them.
///
/// ## Lock discipline (why `@unchecked Sendable` is sound)
/// `queue`, `completed`, `errors`, `closing` are touched only under `lock`;
/// `archive` only by the thread between `init` and `close()`'s join.
public final class HistoryWriter: @unchecked Sendable {
    /// What a read produced, handed back to the reactor.
    public enum Answer: Sendable {
        case json(JSONValueBox)
        /// A CSV body, and the cursor of the page after it.
        case csv([UInt8], next: String?)
        case erased(Bool)
    }

    /// A read: runs on the archive thread with the archive.
    public typealias Read = @Sendable (HistoryArchive) throws(StoreError) -> Answer

    private enum Operation {
        /// Builds the row on this thread: the encoding of a long timeline stays off the loop.
        case put(sessionId: String, version: Int64, make: @Sendable () -> ArchivedCall)
        case samples([QualityPoint])
        case erase(token: Int, sessionId: String)
        case prune(before: Int64)
        case read(token: Int, Read)
    }

    private let archive: HistoryArchive
    private let wake: @Sendable () -> Void
    private let lock = ConditionLock()
    private var queue: [Operation] = []
    private var completed: [(token: Int, result: Result<Answer, StoreError>)] = []
    private var errors: [StoreError] = []
    private var archived: [(sessionId: String, version: Int64)] = []
    private var notArchived: [String] = []
    private var closing = false
    private var thread: PosixThread?

    /// Starts the thread; from now on it owns `archive`.
    public init(archive: HistoryArchive, wake: @escaping @Sendable () -> Void) {
        self.archive = archive
        self.wake = wake
        let thread = PosixThread(name: "sb-history") { [self] in self.run() }
        lock.withLock { self.thread = thread }
    }

    private func enqueue(_ operation: Operation) {
        lock.withLock {
            guard !closing else { return }
            queue.append(operation)
        }
        lock.signal()
    }

    /// Archives (or re-archives) the ended call `make` builds, calling it on
    /// the archive thread (it must capture only values: a copy of the
    /// session, not the hub). The outcome comes back through `takeArchived()`.
    /// - Parameters:
    ///   - version: the session's version the row is made from.
    public func put(sessionId: String, version: Int64, _ make: @escaping @Sendable () -> ArchivedCall) {
        enqueue(.put(sessionId: sessionId, version: version, make: make))
    }

    /// Calls committed to the archive since the last call (with the version
    /// each was made from), and calls whose transaction failed.
    public func takeArchived() -> (done: [(sessionId: String, version: Int64)], failed: [String]) {
        lock.withLock {
            defer {
                archived.removeAll(keepingCapacity: true)
                notArchived.removeAll()
            }
            return (archived, notArchived)
        }
    }

    /// Stores quality samples.
    public func add(_ points: [QualityPoint]) {
        guard !points.isEmpty else { return }
        enqueue(.samples(points))
    }

    /// Erases a call; answers `.erased(true)` when the archive held anything of it.
    public func erase(_ sessionId: String, token: Int) { enqueue(.erase(token: token, sessionId: sessionId)) }

    /// Deletes calls that ended before `before`.
    public func prune(before: Int64) { enqueue(.prune(before: before)) }

    /// Runs `read` after every write queued so far; its answer comes back
    /// through `takeCompleted()` with `token`.
    public func read(token: Int, _ read: @escaping Read) { enqueue(.read(token: token, read)) }

    /// Answers since the last call, in the order they were asked for.
    public func takeCompleted() -> [(token: Int, result: Result<Answer, StoreError>)] {
        lock.withLock {
            defer { completed.removeAll(keepingCapacity: true) }
            return completed
        }
    }

    /// Failed writes since the last call.
    public func takeErrors() -> [StoreError] {
        lock.withLock {
            defer { errors.removeAll() }
            return errors
        }
    }

    /// Finishes what is queued, then stops the thread.
    public func close() {
        let thread: PosixThread? = lock.withLock {
            closing = true
            return self.thread
        }
        lock.signal()
        thread?.join()
    }

    private func run() {
        while true {
            let batch: [Operation] = lock.withLock {
                while queue.isEmpty && !closing { lock.wait() }
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            if batch.isEmpty { return }
            var answers: [(token: Int, result: Result<Answer, StoreError>)] = []
            var failures: [StoreError] = []
            var stored: [(sessionId: String, version: Int64)] = []
            var lost: [String] = []
            var writes: [Operation] = []
            func flushWrites() {
                guard !writes.isEmpty else { return }
                defer { writes.removeAll() }
                var erased: [(Int, Bool)] = []
                do {
                    try archive.transaction { () throws(StoreError) in
                        erased = []
                        for op in writes {
                            switch op {
                            case .put(_, _, let make): try archive.put(make())
                            case .samples(let points): try archive.add(points)
                            case .erase(let token, let id): erased.append((token, try archive.erase(id)))
                            case .prune(let before): _ = try archive.prune(before: before)
                            case .read: break
                            }
                        }
                    }
                    answers += erased.map { (token: $0.0, result: .success(.erased($0.1))) }
                    for op in writes { if case .put(let id, let version, _) = op { stored.append((id, version)) } }
                } catch {
                    failures.append(error)
                    for op in writes {
                        switch op {
                        case .erase(let token, _): answers.append((token, .failure(error)))
                        case .put(let id, _, _): lost.append(id)
                        default: break
                        }
                    }
                }
            }
            for op in batch {
                if case .read(let token, let read) = op {
                    flushWrites()
                    do { answers.append((token, .success(try read(archive)))) } catch { answers.append((token, .failure(error))) }
                } else {
                    writes.append(op)
                }
            }
            flushWrites()
            if !answers.isEmpty || !failures.isEmpty || !stored.isEmpty {
                lock.withLock {
                    completed += answers
                    errors += failures
                    archived += stored
                    notArchived += lost
                }
                wake()
            }
        }
    }
}

/// A `JSONValue` answer (a box so `Answer` stays a small enum).
public struct JSONValueBox: Sendable {
    public let value: JSONValue
    public init(_ value: JSONValue) { self.value = value }
}
