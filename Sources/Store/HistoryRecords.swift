import CallState

/// One ended call as the archive keeps it (PROTOCOL.md §12): the indexed
/// columns the history filters use, and the call's final JSON (summary row,
/// document, timeline, conflicts), encoded by the hub.
public struct ArchivedCall: Sendable {
    public var sessionId: String
    /// The session's epoch: the quality samples of this incarnation of the id.
    public var epoch: String
    public var endedAt: Int64
    public var startedAt: Int64?
    public var provider: String?
    public var direction: String?
    public var grade: String?
    public var state: String?
    public var calleeSub: String?
    /// The document's (latest) MOS, as the history row shows it.
    public var mos: Double?
    /// The call's mean MOS over every sample: what the fleet summary ranks.
    public var mosAvg: Double?
    /// Every quality warning raised during the call.
    public var warnings: [String]
    /// Lower-cased identifiers `q` matches (ids, numbers when not encrypted).
    public var search: String
    public var summary: [UInt8]
    public var document: [UInt8]
    public var timeline: [UInt8]
    public var conflicts: [UInt8]

    public init(sessionId: String, epoch: String, endedAt: Int64, startedAt: Int64?, provider: String?,
                direction: String?, grade: String?, state: String?, calleeSub: String?, mos: Double?,
                mosAvg: Double?, warnings: [String], search: String, summary: [UInt8], document: [UInt8],
                timeline: [UInt8], conflicts: [UInt8]) {
        self.sessionId = sessionId
        self.epoch = epoch
        self.endedAt = endedAt
        self.startedAt = startedAt
        self.provider = provider
        self.direction = direction
        self.grade = grade
        self.state = state
        self.calleeSub = calleeSub
        self.mos = mos
        self.mosAvg = mosAvg
        self.warnings = warnings
        self.search = search
        self.summary = summary
        self.document = document
        self.timeline = timeline
        self.conflicts = conflicts
    }
}

/// One scored quality sample of a session, in the order the hub applied it.
public struct QualityPoint: Sendable, Equatable {
    public var sessionId: String
    public var epoch: String
    /// The session's version right after the sample: unique per sample, and
    /// the same when a restart replays the journal (so a replay re-inserts nothing).
    public var version: Int64
    public var ts: Int64
    public var mos: Double?
    public var latency: Double?
    public var jitter: Double?
    public var packetLoss: Double?
    /// The warnings active right after this sample.
    public var warnings: [String]

    public init(sessionId: String, epoch: String, version: Int64, ts: Int64, mos: Double?, latency: Double?,
                jitter: Double?, packetLoss: Double?, warnings: [String]) {
        self.sessionId = sessionId
        self.epoch = epoch
        self.version = version
        self.ts = ts
        self.mos = mos
        self.latency = latency
        self.jitter = jitter
        self.packetLoss = packetLoss
        self.warnings = warnings
    }
}

/// The filters of `GET /api/history` (and `.csv`), already validated.
public struct HistoryQuery: Sendable, Equatable {
    /// `endedAt >= from` (ms), when set.
    public var from: Int64?
    /// `endedAt < to` (ms), when set.
    public var to: Int64?
    public var provider: String?
    public var grade: String?
    public var state: String?
    public var calleeSub: String?
    /// Substring of the call's identifiers, case-insensitive.
    public var q: String?
    public var limit: Int
    /// The last row of the previous page: `(endedAt, sessionId)`.
    public var after: (endedAt: Int64, sessionId: String)?

    public init(from: Int64? = nil, to: Int64? = nil, provider: String? = nil, grade: String? = nil,
                state: String? = nil, calleeSub: String? = nil, q: String? = nil, limit: Int = 50,
                after: (endedAt: Int64, sessionId: String)? = nil) {
        self.from = from
        self.to = to
        self.provider = provider
        self.grade = grade
        self.state = state
        self.calleeSub = calleeSub
        self.q = q
        self.limit = limit
        self.after = after
    }

    public static func == (a: HistoryQuery, b: HistoryQuery) -> Bool {
        a.from == b.from && a.to == b.to && a.provider == b.provider && a.grade == b.grade && a.state == b.state
            && a.calleeSub == b.calleeSub && a.q == b.q && a.limit == b.limit
            && a.after?.endedAt == b.after?.endedAt && a.after?.sessionId == b.after?.sessionId
    }
}

/// One page of history: summary rows newest first, and where the next starts.
public struct HistoryPage: Sendable {
    public var calls: [JSONValue]
    /// `(endedAt, sessionId)` of the last row when more may follow.
    public var next: (endedAt: Int64, sessionId: String)?
}

/// One call as the fleet summary reads it.
public struct SummaryRow: Sendable {
    public var endedAt: Int64
    public var provider: String?
    public var direction: String?
    public var grade: String?
    public var mosAvg: Double?
    public var warnings: [String]
}
