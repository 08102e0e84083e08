/// What became of one update (§2.7).
public enum UpdateFate: String, Sendable, Hashable, CaseIterable, Codable {
    /// It became the field's winner.
    case applied
    /// It lost to the winner by being older (or agreed with it).
    case stale
    /// Its `(source, eventId)` was already applied.
    case duplicate
    /// It lost a conflict (§2.4).
    case conflict
    /// Its `ts` was in the future and was clamped to the hub clock (§2.1); it
    /// was merged with the clamped `ts`, whether it won shows in `ApplyOutcome.applied`.
    case clamped
    /// Its value has the wrong type for the field; the engine dropped it.
    case invalid
}

/// One update as the timeline records it.
public struct TimelineUpdate: Sendable, Hashable, Codable {
    /// The field written.
    public var field: Field
    /// The value.
    public var value: JSONValue
    /// The `ts` it was merged with (the hub clock if clamped).
    public var ts: Int64
    /// What became of it.
    public var fate: UpdateFate
    /// The source's original `ts` when `fate` is `clamped`.
    public var clampedFrom: Int64?

    /// Creates a record.
    public init(field: Field, value: JSONValue, ts: Int64, fate: UpdateFate, clampedFrom: Int64? = nil) {
        self.field = field
        self.value = value
        self.ts = ts
        self.fate = fate
        self.clampedFrom = clampedFrom
    }

    /// The field's wire name.
    public var fieldName: String { field.name }

    /// `{"field","value","ts","fate"}`, plus `clampedFrom` when clamped.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "field": .string(field.name), "value": value, "ts": .int(ts), "fate": .string(fate.rawValue),
        ]
        if let clampedFrom { object["clampedFrom"] = .int(clampedFrom) }
        return .object(object)
    }
}

/// One input in a session's timeline (§2.7): when it arrived, who sent it, and
/// what became of each of its updates.
///
/// Stores the input's own update array (shared, not copied) and the results
/// packed in a word, so recording an input costs no allocation on the hot path;
/// `updates` spells the records out when read.
public struct TimelineEntry: Sendable, Hashable, Codable {
    /// Hub time it was applied, ms.
    public var at: Int64
    /// `twilio.status`, `client.report`, …
    public var kind: String
    /// Who sent it.
    public var source: String
    /// provider / backend / client.
    public var sourceKind: SourceKind
    /// Its idempotency key, if any.
    public var eventId: String?
    /// Conflicts it caused (§2.4).
    public var conflicts: [Conflict]
    /// How many quality samples it carried.
    public var qualitySamples: Int
    /// The session's version after it.
    public var version: Int64
    /// The updates as the input carried them (before clamping).
    private var inputUpdates: [Update]
    /// What became of each of them.
    private var results: UpdateResults

    init(at: Int64, kind: String, source: String, sourceKind: SourceKind, eventId: String?,
         inputUpdates: [Update], results: UpdateResults, conflicts: [Conflict], qualitySamples: Int,
         version: Int64) {
        self.at = at
        self.kind = kind
        self.source = source
        self.sourceKind = sourceKind
        self.eventId = eventId
        self.inputUpdates = inputUpdates
        self.results = results
        self.conflicts = conflicts
        self.qualitySamples = qualitySamples
        self.version = version
    }

    /// Its updates, in input order, with their fates. A clamped update shows the
    /// `ts` it was merged with (the hub clock, `at`) and its original in `clampedFrom`.
    public var updates: [TimelineUpdate] {
        inputUpdates.indices.map { i in
            let u = inputUpdates[i]
            let fate = results[i].fate
            return fate == .clamped
                ? TimelineUpdate(field: u.field, value: u.value, ts: at, fate: fate, clampedFrom: u.ts)
                : TimelineUpdate(field: u.field, value: u.value, ts: u.ts, fate: fate)
        }
    }

    /// `{"at","kind","source","sourceKind","eventId","version","updates":[…],
    /// "conflicts":[…],"qualitySamples"}`.
    public var json: JSONValue {
        .object([
            "at": .int(at),
            "kind": .string(kind),
            "source": .string(source),
            "sourceKind": .string(sourceKind.rawValue),
            "eventId": eventId.map(JSONValue.string) ?? .null,
            "version": .int(version),
            "updates": .array(updates.map(\.json)),
            "conflicts": .array(conflicts.map(\.json)),
            "qualitySamples": .int(Int64(qualitySamples)),
        ])
    }
}

