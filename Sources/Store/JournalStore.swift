/// The storage behind the journal.
///
/// Implementations are used from one thread at a time: the `JournalWriter`'s
/// thread while the hub serves, and the starting thread for `loadAll()`
/// before it does. They need no locking of their own.
public protocol JournalStore: AnyObject {
    /// Appends all entries in one transaction (one fsync for a durable store).
    ///
    /// Throws on any failure; then nothing of the batch is stored.
    func append(_ entries: [JournalEntry]) throws

    /// Every entry of every session still stored, in append order (for restart).
    func loadAll() throws -> [JournalEntry]

    /// Deletes everything of these sessions, snapshots included (retention compaction).
    func drop(sessions: [String]) throws

    /// Replaces every entry of the snapshot's session with the snapshot, in
    /// one transaction. The caller guarantees the snapshot covers all of them.
    func snapshot(_ snapshot: SessionSnapshot) throws

    /// Every stored snapshot (restart: apply these first, then `loadAll()`).
    func loadSnapshots() throws -> [SessionSnapshot]

    /// Number of append transactions committed so far (group-commit tests and metrics).
    var commitCount: Int { get }
}
