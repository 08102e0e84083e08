/// Why an update did not become its field's winner, as `ack.ignored` reports it.
public enum IgnoreReason: String, Sendable, Hashable, CaseIterable {
    /// Older than the winner (or agreeing with it).
    case stale
    /// Lost a conflict (§2.4).
    case conflict
    /// Already applied (§2.3).
    case duplicate
    /// Wrong type for the field.
    case invalid
    /// A derived field no input may write; set by the edge, never by the engine.
    case readOnly = "read_only"
    /// Not a field of the document (answered by the edge, never merged).
    case unknownField = "unknown_field"
}

/// One ignored update: `{field, reason}` in an `ack`.
public struct IgnoredUpdate: Sendable, Hashable {
    /// The wire name of the field.
    public var field: String
    /// Why.
    public var reason: IgnoreReason

    /// Creates a record.
    public init(field: String, reason: IgnoreReason) {
        self.field = field
        self.reason = reason
    }

    /// `{"field","reason"}`.
    public var json: JSONValue { .object(["field": .string(field), "reason": .string(reason.rawValue)]) }
}

/// What one `apply` or `tick` did: the material for the `ack`, the
/// `state_change` and `quality` frames, metrics and logs.
///
/// Building one costs no allocation on the hot path: it keeps the input's own
/// update array and a packed result per update, and spells out `applied`,
/// `ignored`, `clamped` and `changed` only when read.
public struct ApplyOutcome: Sendable, Hashable {
    /// The whole input was already applied (§2.3); nothing changed.
    public var duplicate: Bool
    /// Conflicts this input caused (§2.4).
    public var conflicts: [Conflict]
    /// The document changed (any key but `version`, `lastSync`, `quality`).
    public var stateChanged: Bool
    /// The quality state (latest sample, aggregate or warnings) changed.
    public var qualityChanged: Bool
    /// The session's version after this input: one more than before iff
    /// `stateChanged || qualityChanged`.
    public var version: Int64

    /// The input's updates, in order.
    var updates: [Update]
    /// What became of each of them.
    var results: UpdateResults
    /// The top-level keys that changed.
    var changedKeys: DocumentKeySet

    /// Creates an outcome that changed nothing.
    public init(version: Int64) {
        self.init(version: version, changedKeys: DocumentKeySet(), qualityChanged: false)
    }

    /// The outcome of an input or tick, assembled once at the end.
    init(version: Int64, duplicate: Bool = false, updates: [Update] = [], results: UpdateResults = UpdateResults(),
         conflicts: [Conflict] = [], changedKeys: DocumentKeySet, qualityChanged: Bool) {
        self.version = version
        self.duplicate = duplicate
        self.updates = updates
        self.results = results
        self.conflicts = conflicts
        self.changedKeys = changedKeys
        self.stateChanged = !changedKeys.isEmpty
        self.qualityChanged = qualityChanged
    }

    /// Fields whose winner this input set (even when the value did not
    /// change), in input order.
    public var applied: [Field] {
        updates.indices.compactMap { results[$0].outcome == .applied ? updates[$0].field : nil }
    }

    /// Updates that did not win, with the reason, in input order.
    public var ignored: [IgnoredUpdate] {
        updates.indices.compactMap { i in
            results[i].ignoreReason.map { IgnoredUpdate(field: updates[i].field.name, reason: $0) }
        }
    }

    /// Fields whose update had its `ts` clamped (§2.1); they were still merged.
    public var clamped: [Field] {
        updates.indices.compactMap { results[$0].clamped ? updates[$0].field : nil }
    }

    /// The timeline fate of each update, in input order.
    public var fates: [UpdateFate] {
        updates.indices.map { results[$0].fate }
    }

    /// Top-level document keys whose value changed, in document order
    /// (`["callState","logStatus","answeredAt"]`). Never lists `version` and
    /// `lastSync` (they change with every change) nor `quality` (see `qualityChanged`).
    public var changed: [String] { changedKeys.names }
}
