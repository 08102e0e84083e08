/// The outcome of one submitted entry, handed back to the reactor.
public struct JournalCompletion: Sendable {
    /// The reactor's id for the waiting request, as given to `submit`.
    public let token: Int
    /// The entry as submitted.
    public let entry: JournalEntry
    /// Set when the entry's batch failed: nothing of it is stored, and the
    /// reactor must not apply it (it answers 503 instead).
    public let error: StoreError?

    /// - Parameters:
    ///   - token: the reactor's id for the waiting request.
    ///   - entry: the entry as submitted.
    ///   - error: nil when the entry is durably stored.
    public init(token: Int, entry: JournalEntry, error: StoreError?) {
        self.token = token
        self.entry = entry
        self.error = error
    }
}
