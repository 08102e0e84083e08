import CallState

/// The merged call document after a change: what `SwitchboardCall.states` yields.
///
/// One arrives for every fresh snapshot (first connect, or a resume the hub
/// could not serve) and for every `state_change` newer than the version held.
public struct CallUpdate: Sendable, Equatable {
    /// What produced the update.
    public enum Kind: String, Sendable, Equatable {
        /// A `snapshot` with `recovered:false`: the document starts over.
        case snapshot
        /// A `state_change` frame (live, or replayed after a resume).
        case stateChange
    }

    /// What produced it.
    public var kind: Kind
    /// The session.
    public var sessionId: String
    /// The session's epoch (PROTOCOL.md §2.6).
    public var epoch: String?
    /// The document version.
    public var version: Int64
    /// The whole merged document (PROTOCOL.md §1).
    public var document: [String: JSONValue]
    /// Top-level keys this change touched (empty for snapshots).
    public var changed: [String]
    /// Conflicts reported with this change: `{field, kept, discarded, rule}`.
    public var conflicts: [JSONValue]

    /// The document's `callState`, when it holds a known value.
    public var callState: CallStateValue? {
        document["callState"]?.stringValue.flatMap(CallStateValue.init(rawValue:))
    }

    /// The document's `syncStatus` (`synchronized`, `pending`, `conflict`).
    public var syncStatus: String? { document["syncStatus"]?.stringValue }

    /// A field of the document.
    public subscript(field: String) -> JSONValue? { document[field] }
}
