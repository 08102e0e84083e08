/// The latest quality sample of a session, scored (§1 `quality`, §4).
public struct QualitySnapshot: Sendable, Hashable, Codable {
    /// MOS, reported or computed, rounded to 3 decimals; nil when the sample had
    /// neither a MOS nor a latency to compute one from.
    public var mos: Double?
    /// One-way latency, ms.
    public var latency: Double?
    /// Jitter, ms.
    public var jitter: Double?
    /// Packet loss, percent.
    public var packetLoss: Double?
    /// E-model R factor, rounded to 2 decimals; nil without a latency.
    public var rFactor: Double?
    /// The grade of `mos` (as displayed, i.e. rounded).
    public var grade: QualityGrade?
    /// Whether `mos` was reported or computed.
    public var mosSource: MOSSource?
    /// The sample's own timestamp, ms.
    public var ts: Int64

    /// Creates a snapshot.
    public init(mos: Double?, latency: Double?, jitter: Double?, packetLoss: Double?,
                rFactor: Double?, grade: QualityGrade?, mosSource: MOSSource?, ts: Int64) {
        self.mos = mos
        self.latency = latency
        self.jitter = jitter
        self.packetLoss = packetLoss
        self.rFactor = rFactor
        self.grade = grade
        self.mosSource = mosSource
        self.ts = ts
    }

    /// `{mos, latency, jitter, packetLoss, rFactor, grade, mosSource}`, every key
    /// present (null when unknown).
    public var json: JSONValue {
        .object([
            "mos": mos.map(JSONValue.double) ?? .null,
            "latency": latency.map(JSONValue.double) ?? .null,
            "jitter": jitter.map(JSONValue.double) ?? .null,
            "packetLoss": packetLoss.map(JSONValue.double) ?? .null,
            "rFactor": rFactor.map(JSONValue.double) ?? .null,
            "grade": grade.map { .string($0.rawValue) } ?? .null,
            "mosSource": mosSource.map { .string($0.rawValue) } ?? .null,
        ])
    }
}

/// MOS over the whole call: `{min, avg, max, samples}`.
public struct QualityAggregate: Sendable, Hashable, Codable {
    /// Lowest MOS seen.
    public var min: Double?
    /// Highest MOS seen.
    public var max: Double?
    /// Sum of every MOS seen (the average is `sum / samples`).
    public var sum: Double = 0
    /// How many samples carried a MOS.
    public var samples: Int = 0

    /// Creates an empty aggregate.
    public init() {}

    /// Mean MOS, nil before the first.
    public var avg: Double? { samples == 0 ? nil : sum / Double(samples) }

    /// Folds in one MOS.
    mutating func add(_ mos: Double) {
        min = Swift.min(min ?? mos, mos)
        max = Swift.max(max ?? mos, mos)
        sum += mos
        samples += 1
    }

    /// `{min, avg, max, samples}`, MOS values rounded to 3 decimals.
    public var json: JSONValue {
        .object([
            "min": min.map { .double(rounded($0, places: 3)) } ?? .null,
            "avg": avg.map { .double(rounded($0, places: 3)) } ?? .null,
            "max": max.map { .double(rounded($0, places: 3)) } ?? .null,
            "samples": .int(Int64(samples)),
        ])
    }
}

/// A session's call quality: the latest sample, the aggregate and the active
/// warnings, as the `quality` frame carries them (§3.2).
public struct QualityState: Sendable, Hashable, Codable {
    /// The sample with the greatest `ts` (the later arrival on equal `ts`).
    public var latest: QualitySnapshot?
    /// MOS over the call.
    public var aggregate: QualityAggregate
    /// Active warnings, in `QualityWarning.allCases` order.
    public var warnings: [QualityWarning]

    /// Creates a quality state.
    public init(latest: QualitySnapshot? = nil, aggregate: QualityAggregate = QualityAggregate(),
                warnings: [QualityWarning] = []) {
        self.latest = latest
        self.aggregate = aggregate
        self.warnings = warnings
    }

    /// `{"quality":{…}|null,"aggregate":{…},"warnings":[…]}`: the body of a
    /// `quality` frame without `type`, `sessionId` and `version`.
    public var json: JSONValue {
        .object([
            "quality": latest?.json ?? .null,
            "aggregate": aggregate.json,
            "warnings": .array(warnings.map { .string($0.rawValue) }),
        ])
    }
}
