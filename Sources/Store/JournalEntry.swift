import CallState

/// One journaled input: what the reactor will apply after commit.
public struct JournalEntry: Sendable, Equatable {
    /// The session the input belongs to (PROTOCOL.md §1: 1-128 characters).
    public var sessionId: String
    /// The session's epoch when the entry was appended; the first entry of a
    /// session creates the session with this epoch, so epochs survive restarts (§2.6, §7).
    public var epoch: String
    /// The full input, including its updates and quality samples.
    public var input: Input

    /// - Parameters:
    ///   - sessionId: the session the input belongs to.
    ///   - epoch: the session's epoch at append time.
    ///   - input: the input as the reactor will apply it.
    public init(sessionId: String, epoch: String, input: Input) {
        self.sessionId = sessionId
        self.epoch = epoch
        self.input = input
    }
}
