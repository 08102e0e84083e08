/// A verifier setting that cannot be used, naming its config key
/// (`auth.hs256Secret`, `auth.publicKeys[1]`, …) so the hub can stop at
/// start with a message that says what to fix (§8).
public struct KeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config key, e.g. `auth.publicKeys[0]`.
    public let key: String
    /// What is wrong with it.
    public let message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
