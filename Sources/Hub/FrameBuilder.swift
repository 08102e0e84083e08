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

    /// `state_change` (§3.2), the frame of every input: written member by
    /// member in canonical key order (the same bytes as encoding the
    /// dictionary, which a test checks) because building and sorting its
    /// dictionaries was the largest share of the hub's CPU per input.
    func stateChange(_ engine: CallSession, _ outcome: ApplyOutcome) -> Frame {
        let doc = engine.document
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        out.append(UInt8(ascii: "{"))
        // Keys in UTF-8 byte order: call < callId < changed < conflicts < epoch
        // < quality < sessionId < state < type < version.
        JSONCodec.writeKey("call", first: true, into: &out)
        JSONCodec.writeObject(ordered: doc.canonicalMembers, into: &out)
        JSONCodec.writeKey("callId", first: false, into: &out)
        JSONCodec.write(doc.callId.map(JSONValue.string) ?? .null, into: &out)
        JSONCodec.writeKey("changed", first: false, into: &out)
        JSONCodec.write(.array(outcome.changed.map { .string($0) }), into: &out)
        JSONCodec.writeKey("conflicts", first: false, into: &out)
        JSONCodec.write(.array(outcome.conflicts.map(\.json)), into: &out)
        JSONCodec.writeKey("epoch", first: false, into: &out)
        JSONCodec.write(.string(engine.epoch), into: &out)
        JSONCodec.writeKey("quality", first: false, into: &out)
        JSONCodec.write(engine.quality.latest?.json ?? .null, into: &out)
        JSONCodec.writeKey("sessionId", first: false, into: &out)
        JSONCodec.write(.string(engine.sessionId), into: &out)
        JSONCodec.writeKey("state", first: false, into: &out)
        JSONCodec.write(doc.callState.map { .string($0.rawValue) } ?? .null, into: &out)
        JSONCodec.writeKey("type", first: false, into: &out)
        JSONCodec.write(.string("state_change"), into: &out)
        JSONCodec.writeKey("version", first: false, into: &out)
        JSONCodec.write(.int(engine.version), into: &out)
        out.append(UInt8(ascii: "}"))
        return Frame(kind: .state, version: engine.version, headroom: headroom, payload: out)
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

    /// A dashboard batch, several messages in one WebSocket message: a JSON
    /// array of rows (members in canonical order, written without sorting),
    /// then events; the same bytes as encoding `.array(rows + events)`.
    func batch(rows: [[(key: String, value: JSONValue)]], events: [JSONValue]) -> Frame {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(320 * rows.count + 256)
        for (index, row) in rows.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONCodec.writeObject(ordered: row, into: &out)
        }
        for (index, event) in events.enumerated() {
            if index > 0 || !rows.isEmpty { out.append(UInt8(ascii: ",")) }
            JSONCodec.write(event, into: &out)
        }
        out.append(UInt8(ascii: "]"))
        return Frame(kind: .dashboard, version: 0, headroom: headroom, payload: out)
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
