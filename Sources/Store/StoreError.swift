/// Why the journal could not do what was asked: open, append, load, drop.
///
/// `message` is meant for an operator: it names the configuration key
/// (`store.path`, `store.encryptionKey`) when one is to blame, and the
/// SQLite error text when SQLite is.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in one line.
    public let message: String

    /// - Parameter message: what went wrong, in one line.
    public init(message: String) {
        self.message = message
    }

    public var description: String { message }

    /// Any error as a `StoreError` (stores may throw other errors through
    /// the untyped `JournalStore` requirements).
    static func wrapping(_ error: any Error) -> StoreError {
        if let storeError = error as? StoreError { return storeError }
        return StoreError(message: "\(error)")
    }
}
