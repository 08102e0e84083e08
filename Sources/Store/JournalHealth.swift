#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The journal's files and maintenance ages, for `/metrics`.
public struct JournalHealth: Sendable, Equatable {
    /// Size of the database file.
    public var databaseBytes: Int
    /// Size of the `-wal` file (0 when absent).
    public var walBytes: Int
    /// When a checkpoint last copied the whole WAL into the database (ms
    /// since the epoch); the hub's open counts, since it starts with one.
    public var lastCheckpointAt: Int64?
    /// When `switchboard journal backup` last completed (ms), from its stamp file.
    public var lastBackupAt: Int64?

    /// Gauges in the hub's `(name, labels, value)` shape; an age that never
    /// started (no backup yet) is `+Inf`, so an alert on "older than a day" fires.
    public func gauges(now: Int64) -> [(String, [(String, String)], Double)] {
        func age(_ at: Int64?) -> Double { at.map { Double(max(0, now - $0)) / 1000 } ?? .infinity }
        return [("switchboard_journal_bytes", [], Double(databaseBytes)),
                ("switchboard_journal_wal_bytes", [], Double(walBytes)),
                ("switchboard_journal_last_checkpoint_age_seconds", [], age(lastCheckpointAt)),
                ("switchboard_journal_last_backup_age_seconds", [], age(lastBackupAt))]
    }
}

extension SQLiteJournal {
    /// What the checkpoint thread may write into the marker: the newest
    /// commit and the one before it, plus when a checkpoint last completed.
    /// Written by the writer thread once per commit, read by the checkpoint
    /// thread once per pass.
    final class Progress: @unchecked Sendable {  // every field under `lock`
        private let lock = ConditionLock()
        private var lastSeq: Int64 = 0
        private var prevSeq: Int64 = 0
        private var markedSeq: Int64 = -1
        private var lastCheckpoint: Int64?

        func set(lastSeq: Int64, prevSeq: Int64, checkpointAt: Int64) {
            lock.withLock {
                self.lastSeq = lastSeq
                self.prevSeq = prevSeq
                self.markedSeq = lastSeq
                self.lastCheckpoint = checkpointAt
            }
        }

        func committed(lastSeq: Int64, prevSeq: Int64) {
            lock.withLock {
                self.lastSeq = lastSeq
                self.prevSeq = prevSeq
            }
        }

        var checkpointAt: Int64? { lock.withLock { lastCheckpoint } }

        /// On the checkpoint thread after a pass: records a complete one and
        /// brings the marker up to the newest commit (a failed write is
        /// retried after the next pass; the old marker still holds a lower bound).
        func passFinished(complete: Bool, journalId: String, path: String) {
            let now = FileIO.nowMs()
            let (last, prev, marked): (Int64, Int64, Int64) = lock.withLock {
                if complete { lastCheckpoint = now }
                return (lastSeq, prevSeq, markedSeq)
            }
            guard last != marked else { return }
            do {
                try JournalMarker(journalId: journalId, lastSeq: last, prevSeq: prev, state: .open, writtenAt: now)
                    .write(databasePath: path)
                lock.withLock { markedSeq = max(markedSeq, last) }
            } catch {}
        }
    }
}
