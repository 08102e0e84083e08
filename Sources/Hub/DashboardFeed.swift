import CallState

/// The `/ws/dashboard` stream (PROTOCOL.md §3.2): a `summary` on connect, then
/// `session` rows for sessions that changed, at most one row per session per
/// `dashboard.intervalMs`, several rows batched into one message.
///
/// Batching is what keeps a dashboard cheap: 1,000 busy calls cost each
/// dashboard four messages a second, not thousands.
final class DashboardFeed {
    var subscribers: [ObjectIdentifier: Subscriber] = [:]
    /// Sessions changed since the last flush, in first-change order.
    private var dirty: [String] = []
    private var dirtySet: Set<String> = []
    /// Conflict and warning events waiting for the next flush.
    private var events: [JSONValue] = []
    private var lastFlush: Int64 = 0
    let intervalMs: Int64

    init(intervalMs: Int) { self.intervalMs = Int64(intervalMs) }

    var isWatched: Bool { !subscribers.isEmpty }

    func markChanged(_ sessionId: String) {
        guard isWatched, dirtySet.insert(sessionId).inserted else { return }
        dirty.append(sessionId)
    }

    func add(event: JSONValue) {
        guard isWatched else { return }
        events.append(event)
    }

    /// Whether a flush is due at `now`.
    func isDue(_ now: Int64) -> Bool {
        (!dirty.isEmpty || !events.isEmpty) && now - lastFlush >= intervalMs
    }

    /// Takes the pending rows' session ids and events, resetting the interval.
    func drain(now: Int64) -> (sessions: [String], events: [JSONValue]) {
        defer {
            dirty = []
            dirtySet = []
            events = []
            lastFlush = now
        }
        return (dirty, events)
    }

    /// One dashboard row: what a live-calls table needs (§3.2 plus the
    /// columns the dashboard page shows).
    static func row(_ engine: CallSession, now: Int64 = 0, staleAfterMs: Int64 = 0) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: rowMembers(engine, now: now, staleAfterMs: staleAfterMs)
            .lazy.map { ($0.key, $0.value) }))
    }

    /// The row's members in canonical key order. A flush may write a row for
    /// every live session at once, so this reads typed fields instead of
    /// building the document, and the batch is written without sorting
    /// (the flush of 1,000 rows had been the hub's longest pause).
    /// `stale` is as of `now` (`CallSession.isStale`); a row sent because the
    /// session changed is never stale, and the page flips the flag itself
    /// from `lastSync` and the summary's `staleAfterMs` (no frame is sent
    /// when a call merely goes quiet).
    static func rowMembers(_ engine: CallSession, now: Int64 = 0,
                           staleAfterMs: Int64 = 0) -> [(key: String, value: JSONValue)] {
        func int(_ v: Int64?) -> JSONValue { v.map { .int($0) } ?? .null }
        func text(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
        let latest = engine.quality.latest?.json ?? .null  // rounded as in the document
        return [
            ("answeredAt", int(engine.answeredAt)),
            ("callState", text(engine.currentCallState?.rawValue)),
            ("direction", text(engine.winner(.direction)?.value.stringValue)),
            ("endedAt", int(engine.endedAt)),
            ("lastSync", int(engine.lastSyncAt)),
            ("provider", text(engine.winner(.provider)?.value.stringValue)),
            ("quality", .object(["mos": latest["mos"] ?? .null, "grade": latest["grade"] ?? .null])),
            ("sessionId", .string(engine.sessionId)),
            ("stale", .bool(engine.isStale(now: now, afterMs: staleAfterMs))),
            ("startedAt", int(engine.startedAt)),
            ("syncStatus", .string(engine.syncStatus.rawValue)),
            ("type", "session"),
            ("version", .int(engine.version)),
            ("warnings", .array(engine.quality.warnings.map { .string($0.rawValue) })),
        ]
    }
}
