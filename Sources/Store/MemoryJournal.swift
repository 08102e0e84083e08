/// A `JournalStore` in memory: for tests and `store.kind = memory`.
///
/// Nothing survives the process; it exists so the reactor and the writer can
/// be exercised without a disk, and it follows the same contract as
/// `SQLiteJournal` (a batch is stored whole or not at all).
public final class MemoryJournal: JournalStore {
    private var entries: [JournalEntry] = []
    private var snapshots: [String: SessionSnapshot] = [:]

    /// Number of `append` calls that stored their batch.
    public private(set) var commitCount = 0

    /// An empty journal.
    public init() {}

    /// Stores the batch; never fails.
    public func append(_ entries: [JournalEntry]) throws {
        self.entries.append(contentsOf: entries)
        commitCount += 1
    }

    /// Everything stored, in append order.
    public func loadAll() throws -> [JournalEntry] {
        entries
    }

    /// Forgets every entry of these sessions.
    public func drop(sessions: [String]) throws {
        let doomed = Set(sessions)
        entries.removeAll { doomed.contains($0.sessionId) }
        for session in sessions { snapshots[session] = nil }
    }

    /// Replaces the session's entries with the snapshot.
    public func snapshot(_ snapshot: SessionSnapshot) throws {
        entries.removeAll { $0.sessionId == snapshot.sessionId }
        snapshots[snapshot.sessionId] = snapshot
    }

    /// Every snapshot held.
    public func loadSnapshots() throws -> [SessionSnapshot] {
        snapshots.keys.sorted().compactMap { snapshots[$0] }
    }

    /// Number of entries held (for tests).
    public var count: Int { entries.count }
}
