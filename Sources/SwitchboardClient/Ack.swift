import CallState

/// The hub's `ack` for a `report` (PROTOCOL.md §3.2): the input is durably
/// stored and merged.
public struct Ack: Sendable, Equatable {
    /// A field the hub did not apply, and why.
    public struct Ignored: Sendable, Equatable {
        /// The field name.
        public var field: String
        /// `read_only`, `unknown_field`, `stale` or `conflict`.
        public var reason: String

        /// - Parameters:
        ///   - field: the field name.
        ///   - reason: why it was not applied.
        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }
    }

    /// The id of the report it answers.
    public var id: String
    /// The session's version after the input.
    public var version: Int64
    /// Fields that changed the document.
    public var applied: [String]
    /// Fields that did not, with the reason.
    public var ignored: [Ignored]
    /// True when the hub had already applied this id (a resend after a reconnect).
    public var duplicate: Bool

    /// Reads an `ack` frame.
    init(frame: JSONValue) {
        id = frame["id"]?.stringValue ?? ""
        version = frame["version"]?.intValue ?? 0
        if case .array(let list)? = frame["applied"] { applied = list.compactMap(\.stringValue) } else { applied = [] }
        if case .array(let list)? = frame["ignored"] {
            ignored = list.map { Ignored(field: $0["field"]?.stringValue ?? "", reason: $0["reason"]?.stringValue ?? "") }
        } else {
            ignored = []
        }
        duplicate = frame["duplicate"]?.boolValue ?? false
    }
}
