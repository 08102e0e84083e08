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
/// An entry is one reference to an immutable record holding the input's own
/// update array (shared, not copied) and the results packed in a word. Why a
/// class: as a struct of three strings and three arrays, the optimiser copied
/// each new entry once more on its way into the ring, and recording cost a
/// third of an apply; a reference moves as one word, and the ring's storage
/// shrinks to a pointer per entry. `updates` spells the records out when read.
public struct TimelineEntry: Sendable, Hashable, Codable {
    private final class Record: Sendable {
        let at: Int64
        let kind: String
        let source: String
        let sourceKind: SourceKind
        let eventId: String?
        let conflicts: [Conflict]
        let qualitySamples: Int
        let version: Int64
        let inputUpdates: [Update]
        let results: UpdateResults

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
    }

    private let record: Record

    /// Hub time it was applied, ms.
    public var at: Int64 { record.at }
    /// `twilio.status`, `client.report`, …
    public var kind: String { record.kind }
    /// Who sent it.
    public var source: String { record.source }
    /// provider / backend / client.
    public var sourceKind: SourceKind { record.sourceKind }
    /// Its idempotency key, if any.
    public var eventId: String? { record.eventId }
    /// Conflicts it caused (§2.4).
    public var conflicts: [Conflict] { record.conflicts }
    /// How many quality samples it carried.
    public var qualitySamples: Int { record.qualitySamples }
    /// The session's version after it.
    public var version: Int64 { record.version }
    /// The updates as the input carried them (before clamping).
    private var inputUpdates: [Update] { record.inputUpdates }
    /// What became of each of them.
    private var results: UpdateResults { record.results }

    init(at: Int64, kind: String, source: String, sourceKind: SourceKind, eventId: String?,
         inputUpdates: [Update], results: UpdateResults, conflicts: [Conflict], qualitySamples: Int,
         version: Int64) {
        record = Record(at: at, kind: kind, source: source, sourceKind: sourceKind, eventId: eventId,
                        inputUpdates: inputUpdates, results: results, conflicts: conflicts,
                        qualitySamples: qualitySamples, version: version)
    }

    public static func == (a: TimelineEntry, b: TimelineEntry) -> Bool {
        a.record === b.record || (a.at == b.at && a.kind == b.kind && a.source == b.source
            && a.sourceKind == b.sourceKind && a.eventId == b.eventId && a.conflicts == b.conflicts
            && a.qualitySamples == b.qualitySamples && a.version == b.version
            && a.inputUpdates == b.inputUpdates && a.results == b.results)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(at)
        hasher.combine(kind)
        hasher.combine(source)
        hasher.combine(eventId)
        hasher.combine(version)
        hasher.combine(inputUpdates)
    }

    // Snapshots keep the member names the entry had as a plain struct.
    private enum CodingKeys: String, CodingKey {
        case at, kind, source, sourceKind, eventId, conflicts, qualitySamples, version, inputUpdates, results
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(at: try c.decode(Int64.self, forKey: .at), kind: try c.decode(String.self, forKey: .kind),
                  source: try c.decode(String.self, forKey: .source),
                  sourceKind: try c.decode(SourceKind.self, forKey: .sourceKind),
                  eventId: try c.decodeIfPresent(String.self, forKey: .eventId),
                  inputUpdates: try c.decode([Update].self, forKey: .inputUpdates),
                  results: try c.decode(UpdateResults.self, forKey: .results),
                  conflicts: try c.decode([Conflict].self, forKey: .conflicts),
                  qualitySamples: try c.decode(Int.self, forKey: .qualitySamples),
                  version: try c.decode(Int64.self, forKey: .version))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(at, forKey: .at)
        try c.encode(kind, forKey: .kind)
        try c.encode(source, forKey: .source)
        try c.encode(sourceKind, forKey: .sourceKind)
        try c.encodeIfPresent(eventId, forKey: .eventId)
        try c.encode(conflicts, forKey: .conflicts)
        try c.encode(qualitySamples, forKey: .qualitySamples)
        try c.encode(version, forKey: .version)
        try c.encode(inputUpdates, forKey: .inputUpdates)
        try c.encode(results, forKey: .results)
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

