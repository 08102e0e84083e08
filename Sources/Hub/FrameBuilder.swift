import CallState
import JSONCodec

/// Encodes the frames of PROTOCOL.md §3.2. Each is encoded exactly once; the
/// resulting `Frame` is shared by every subscriber.
struct FrameBuilder {
    let headroom: Int

    func make(_ kind: Frame.Kind, version: Int64, _ members: [String: JSONValue]) -> Frame {
        Frame(kind: kind, version: version, headroom: headroom, payload: JSONCodec.encode(.object(members)))
    }

    func snapshot(_ channel: SessionChannel, recovered: Bool) -> Frame {
        let engine = channel.engine
        return make(.snapshot, version: engine.version, [
            "type": "snapshot",
            "sessionId": .string(engine.sessionId),
            "epoch": .string(engine.epoch),
            "version": .int(engine.version),
            "recovered": .bool(recovered),
            "call": engine.document.json,
            "presence": channel.presence.json,
        ])
    }

    /// `presence` frame (§3.2): who joined or left, deduplicated per `sub`.
    func presence(_ sessionId: String, joined: [JSONValue], left: [JSONValue]) -> Frame {
        make(.presence, version: 0, [
            "type": "presence", "sessionId": .string(sessionId), "joined": .array(joined), "left": .array(left),
        ])
    }

    func stateChange(_ engine: CallSession, _ outcome: ApplyOutcome) -> Frame {
        let doc = engine.document
        return make(.state, version: engine.version, [
            "type": "state_change",
            "sessionId": .string(engine.sessionId),
            "callId": doc.callId.map(JSONValue.string) ?? .null,
            "state": doc.callState.map { .string($0.rawValue) } ?? .null,
            "version": .int(engine.version),
            "epoch": .string(engine.epoch),
            "changed": .array(outcome.changed.map { .string($0) }),
            "call": doc.json,
            "quality": engine.quality.latest?.json ?? .null,
            "conflicts": .array(outcome.conflicts.map(\.json)),
        ])
    }

    /// `quality` frame (§3.2): latest values, the call's aggregate, active warnings.
    func quality(_ engine: CallSession) -> Frame {
        let quality = engine.quality
        return make(.quality, version: engine.version, [
            "type": "quality",
            "sessionId": .string(engine.sessionId),
            "version": .int(engine.version),
            "quality": quality.latest?.json ?? .null,
            "aggregate": quality.aggregate.json,
            "warnings": .array(quality.warnings.map { .string($0.rawValue) }),
        ])
    }

    /// Several frames in one WebSocket message: a JSON array.
    func batch(_ items: [JSONValue]) -> Frame {
        Frame(kind: .dashboard, version: 0, headroom: headroom, payload: JSONCodec.encode(.array(items)))
    }

    func ack(id: JSONValue, outcome: InputOutcome) -> Frame {
        ack(id: id, version: outcome.version, applied: outcome.applied, ignored: outcome.ignored,
            duplicate: outcome.duplicate)
    }

    /// The `ack` frame (§3.2); an `auth` refresh acks with nothing applied.
    func ack(id: JSONValue, version: Int64, applied: [Field] = [], ignored: [IgnoredUpdate] = [],
             duplicate: Bool = false) -> Frame {
        make(.reply, version: 0, [
            "type": "ack",
            "id": id,
            "version": .int(version),
            "applied": .array(applied.map { .string($0.name) }),
            "ignored": .array(ignored.map(\.json)),
            "duplicate": .bool(duplicate),
        ])
    }

    func error(id: JSONValue?, code: String, message: String) -> Frame {
        var members: [String: JSONValue] = ["type": "error", "code": .string(code), "message": .string(message)]
        if let id { members["id"] = id }
        return make(.reply, version: 0, members)
    }

    func tokenExpiring(inMs: Int64) -> Frame {
        make(.reply, version: 0, ["type": "token_expiring", "inMs": .int(inMs)])
    }

    func pong(id: JSONValue?) -> Frame {
        var members: [String: JSONValue] = ["type": "pong"]
        if let id { members["id"] = id }
        return make(.reply, version: 0, members)
    }
}
