/// Why two disagreeing updates count as a conflict (PROTOCOL.md §2.4).
public enum ConflictRule: String, Sendable, Hashable, CaseIterable, Codable {
    /// A terminal state beat a non-terminal one that was not older.
    case terminal
    /// Equal `ts`, decided by lifecycle rank, source rank, source or value.
    case tie
    /// Different source kinds less than `merge.conflictWindowMs` apart.
    case concurrent
}

/// A disagreement the merge resolved, as reported in `state_change` frames,
/// metrics and the timeline.
public struct Conflict: Sendable, Hashable, Codable {
    /// One side of a conflict: what a source said and when.
    public struct Side: Sendable, Hashable, Codable {
        /// The value that source observed.
        public var value: JSONValue
        /// The source (`twilio`, `client:alice`, …).
        public var source: String
        /// Its kind, for the `concurrent` rule and dashboards.
        public var sourceKind: SourceKind
        /// When it observed it (after clamping), ms.
        public var ts: Int64

        /// Creates one side.
        public init(value: JSONValue, source: String, sourceKind: SourceKind, ts: Int64) {
            self.value = value
            self.source = source
            self.sourceKind = sourceKind
            self.ts = ts
        }

        /// The side of an update.
        init(_ update: Update) {
            self.init(value: update.value, source: update.source, sourceKind: update.sourceKind, ts: update.ts)
        }

        /// `{"value","source","ts"}`.
        public var json: JSONValue {
            .object(["value": value, "source": .string(source), "ts": .int(ts)])
        }
    }

    /// The field both updates wrote.
    public var field: Field
    /// The winner.
    public var kept: Side
    /// The loser.
    public var discarded: Side
    /// Which rule made it a conflict.
    public var rule: ConflictRule

    /// Creates a conflict record.
    public init(field: Field, kept: Side, discarded: Side, rule: ConflictRule) {
        self.field = field
        self.kept = kept
        self.discarded = discarded
        self.rule = rule
    }

    /// The field's wire name (`callState`, `metadata.agent`).
    public var fieldName: String { field.name }

    /// The wire shape of §2.4:
    /// `{"field","kept":{value,source,ts},"discarded":{value,source,ts},"rule"}`.
    public var json: JSONValue {
        .object([
            "field": .string(field.name),
            "kept": kept.json,
            "discarded": discarded.json,
            "rule": .string(rule.rawValue),
        ])
    }
}
