import CallState

/// An `error` frame from the hub (PROTOCOL.md §3.3), or a local failure
/// with the same shape.
///
/// Hub codes: `invalid_json`, `invalid_message`, `unknown_type`, `forbidden`,
/// `draining`, `store_unavailable`, token codes on `auth`. Local codes:
/// `closed` (the call stopped before an answer), `outbox_full`,
/// `unknown_event` (`reportCallKitEvent` with a name it cannot map),
/// `token_provider` (the token provider failed or returned nothing).
public struct SwitchboardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The machine-readable code.
    public var code: String
    /// A human-readable explanation.
    public var message: String
    /// The id of the message it answers, when it answers one.
    public var id: String?

    /// - Parameters:
    ///   - code: machine-readable code.
    ///   - message: explanation.
    ///   - id: the message id it answers.
    public init(code: String, message: String, id: String? = nil) {
        self.code = code
        self.message = message
        self.id = id
    }

    /// Reads an `error` frame.
    init(frame: JSONValue) {
        self.init(code: frame["code"]?.stringValue ?? "error",
                  message: frame["message"]?.stringValue ?? "Switchboard error",
                  id: frame["id"]?.stringValue)
    }

    public var description: String { "\(code): \(message)" }
}
