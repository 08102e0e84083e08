import CallState
import Crypto
import JSONCodec
import Store

/// One outbound event before it is addressed to endpoints (PROTOCOL.md §11).
struct OutboundEvent {
    /// Stable across attempts and restarts (see `OutboundEvent.id`).
    var id: String
    var type: String
    var sessionId: String
    var version: Int64
    var ts: Int64
    var data: JSONValue

    /// The POSTed body: `{"id","type","sessionId","version","ts","data"}`.
    var body: [UInt8] {
        JSONCodec.encode(.object([
            "id": .string(id), "type": .string(type), "sessionId": .string(sessionId),
            "version": .int(version), "ts": .int(ts), "data": data,
        ]))
    }

    /// A deterministic id: the same input applied to the same session state
    /// (live, or replayed from the journal after a crash) names its events
    /// the same, so a restart never stores an event twice. `origin` is the
    /// input's journal encoding (or, for timer and API events, what makes
    /// them unique); `index` tells apart events of one input of one type.
    static func id(sessionId: String, epoch: String, origin: [UInt8], type: String, index: Int) -> String {
        var message = Array(sessionId.utf8) + [0] + Array(epoch.utf8) + [0]
        message += Crypto.sha256(origin)
        message += [0] + Array(type.utf8) + [0] + Array(String(index).utf8)
        return "evt_" + String(Crypto.hex(Crypto.sha256(message)).prefix(32))
    }

    /// The events an applied change owes: `call.state` for every accepted
    /// change of `callState`, `call.ended` when it becomes terminal,
    /// `call.conflict` with the conflict list, `quality.warning` for each
    /// warning raised or cleared since `previousWarnings`.
    static func derive(_ outcome: ApplyOutcome, engine: CallSession, previousWarnings: [QualityWarning],
                       origin makeOrigin: () -> [UInt8], now: Int64) -> [OutboundEvent] {
        guard !outcome.duplicate, outcome.stateChanged || outcome.qualityChanged || !outcome.conflicts.isEmpty else { return [] }
        // The input's encoding is only computed when it names an event.
        var cached: [UInt8]?
        func origin() -> [UInt8] {
            if let cached { return cached }
            let made = makeOrigin()
            cached = made
            return made
        }
        let sessionId = engine.sessionId
        var events: [OutboundEvent] = []
        func add(_ type: String, _ data: JSONValue) {
            let index = events.filter { $0.type == type }.count
            events.append(OutboundEvent(
                id: id(sessionId: sessionId, epoch: engine.epoch, origin: origin(), type: type, index: index),
                type: type, sessionId: sessionId, version: outcome.version, ts: now, data: data))
        }
        if outcome.changed.contains("callState") {
            let document = engine.document
            let json = document.json
            add("call.state", json)
            if document.callState?.isTerminal == true { add("call.ended", json) }
        }
        if !outcome.conflicts.isEmpty {
            add("call.conflict", .array(outcome.conflicts.map(\.json)))
        }
        let current = engine.quality.warnings
        if current != previousWarnings {
            let quality = engine.document.json["quality"] ?? .null
            for warning in QualityWarning.allCases {
                let was = previousWarnings.contains(warning), now = current.contains(warning)
                guard was != now else { continue }
                add("quality.warning", .object([
                    "warning": .string(warning.rawValue), "raised": .bool(now), "quality": quality,
                ]))
            }
        }
        return events
    }
}
