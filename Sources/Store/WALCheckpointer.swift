#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite

/// Copies the WAL back into the database on its own thread and connection,
/// so that no commit waits for a checkpoint.
///
/// SQLite's automatic checkpoint runs inside the `COMMIT` that takes the WAL
/// past 1,000 pages: that commit, and every input in it, waits for up to
/// 4 MB to be copied and for an extra fsync of the database file. Under load
/// that happened every few dozen milliseconds, and each time every keep-alive
/// connection of a webhook sender sat waiting for its answer. Here the
/// writer's connection only asks; a second connection runs a `PASSIVE`
/// checkpoint, which SQLite lets run beside a writer (BENCHMARKS.md,
/// session 6).
///
/// A pass starts at 8,000 pages, not 1,000: each session's newest index page
/// is rewritten by every one of its inputs, and a checkpoint copies only the
/// last version of a page, so a longer WAL copies fewer pages per input.
/// The WAL stays bounded even if the background pass falls behind: past
/// `inlineFrames` the writer checkpoints itself, as SQLite would have.
///
/// With an interval (`store.checkpointIntervalMs`), a pass also runs at most
/// that long after a commit, so in steady state the WAL holds only the last
/// moments and the database file holds the rest; and once no commit has come
/// for a whole interval, a `TRUNCATE` checkpoint empties the WAL file. That
/// one takes SQLite's write lock for a moment, which is why it waits for an
/// idle interval: the commit path never waits for a copy.
final class WALCheckpointer: @unchecked Sendable {
    /// WAL size, in pages, that starts a background pass.
    let backgroundFrames: Int32
    /// WAL size, in pages, past which the writer checkpoints in its commit
    /// (four times `backgroundFrames`: 128 MiB by default).
    let inlineFrames: Int32

    // Lock discipline: `requested` and `closing` only under `lock`; `db` only
    // on the checkpoint thread between `init` and `close()`'s join.
    private let lock = ConditionLock()
    private var requested = false
    private var closing = false
    /// Commits since the last timed pass, and whether the WAL may hold frames.
    private var commitsSincePass = 0
    private var walHasFrames = true
    private let interval: Double
    private let onPass: @Sendable (_ complete: Bool) -> Void
    private var db: OpaquePointer?
    private var thread: PosixThread?
    /// Background passes that ran (tests).
    private var passes = 0

    /// Opens the second connection and starts the thread. The database must
    /// already exist in WAL mode.
    /// - Parameters:
    ///   - pages: WAL size, in pages, that starts a background pass.
    ///   - intervalMs: longest time between a commit and a pass (0: off).
    ///   - onPass: called on the checkpoint thread after every pass, with
    ///     whether it copied the whole WAL.
    init(path: String, pages: Int, intervalMs: Int = 0,
         onPass: @escaping @Sendable (_ complete: Bool) -> Void = { _ in }) throws(StoreError) {
        interval = Double(max(0, intervalMs)) / 1000
        self.onPass = onPass
        backgroundFrames = Int32(clamping: max(1, pages))
        inlineFrames = Int32(clamping: max(1, pages) * 4)
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let error = SQLiteStatement.error(handle, rc, "opening the checkpoint connection")
            sqlite3_close_v2(handle)
            throw StoreError(message: "store.path \(path): \(error.message)")
        }
        // A checkpoint fsyncs the WAL before and the database after copying.
        sqlite3_exec(handle, "PRAGMA synchronous = FULL", nil, nil, nil)
        db = handle
        thread = PosixThread(name: "sb-checkpoint") { [self] in run() }
    }

    deinit { close() }

    /// Installs the WAL hook on the writer's connection `writer`, replacing
    /// SQLite's automatic checkpoint. `self` must outlive `writer`'s use.
    func attach(to writer: OpaquePointer) {
        sqlite3_wal_hook(writer, { context, writer, name, frames in
            guard let context else { return SQLITE_OK }
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
            checkpointer.noteCommit()
            if frames >= checkpointer.inlineFrames {
                // Busy (a background pass holds the checkpoint lock) is fine:
                // the next commit tries again.
                sqlite3_wal_checkpoint_v2(writer, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if frames >= checkpointer.backgroundFrames {
                checkpointer.request()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Asks for a pass; returns at once. Requests while one runs make one more.
    func request() {
        let mustSignal: Bool = lock.withLock {
            defer { requested = true }
            return !requested
        }
        if mustSignal { lock.signal() }
    }

    /// Counts a commit for the timed pass (once per commit, not per input).
    func noteCommit() {
        guard interval > 0 else { return }
        lock.withLock {
            commitsSincePass += 1
            walHasFrames = true
        }
    }

    /// How many background passes have run.
    var passCount: Int { lock.withLock { passes } }

    /// Stops the thread, waits for a running pass, closes the connection.
    /// Safe to call twice.
    func close() {
        let thread: PosixThread? = lock.withLock {
            closing = true
            lock.broadcast()
            defer { self.thread = nil }
            return self.thread
        }
        thread?.join()
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    private enum Pass { case stop, passive, truncate, none }

    private func run() {
        while true {
            let pass: Pass = lock.withLock {
                var timedOut = false
                while !requested && !closing && !timedOut {
                    if interval > 0 { timedOut = lock.wait(seconds: interval) } else { lock.wait() }
                }
                if closing { return .stop }
                let commits = commitsSincePass
                commitsSincePass = 0
                if requested {
                    requested = false
                    return .passive
                }
                if commits > 0 { return .passive }
                return walHasFrames ? .truncate : .none
            }
            switch pass {
            case .stop: return
            case .none: continue
            case .passive, .truncate:
                // PASSIVE: copies what it can without waiting for the writer;
                // an error here (busy, I/O) leaves the WAL to the next pass or
                // to the writer's inline checkpoint. TRUNCATE only after an
                // idle interval; busy (a commit just began) is left for the next.
                var log: Int32 = -1, done: Int32 = -1
                let mode = pass == .truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE
                let rc = sqlite3_wal_checkpoint_v2(db, nil, mode, &log, &done)
                let complete = rc == SQLITE_OK && log == done
                lock.withLock {
                    passes += 1
                    if pass == .truncate && rc == SQLITE_OK && commitsSincePass == 0 { walHasFrames = false }
                }
                onPass(complete)
            }
        }
    }
}
