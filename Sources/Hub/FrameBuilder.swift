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
        // Most state frames are 0.5–1 KB. 960 bytes plus the array header
        // is still a size glibc serves from its per-thread cache; 1 KB is not.
        out.reserveCapacity(960)
        // Keys in UTF-8 byte order: call < callId < changed < conflicts < epoch
        // < quality < sessionId < state < type < version.
        JSONCodec.writeRaw("{\"call\":", into: &out)
        FrameBuilder.writeDocument(doc, into: &out)
        JSONCodec.writeRaw(",\"callId\":", into: &out)
        JSONCodec.writeString(doc.callId, into: &out)
        JSONCodec.writeRaw(",\"changed\":[", into: &out)
        for (index, key) in outcome.changed.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONCodec.writeString(key, into: &out)
        }
        JSONCodec.writeRaw("],\"conflicts\":", into: &out)
        JSONCodec.write(.array(outcome.conflicts.map(\.json)), into: &out)
        JSONCodec.writeRaw(",\"epoch\":", into: &out)
        JSONCodec.writeString(engine.epoch, into: &out)
        JSONCodec.writeRaw(",\"quality\":", into: &out)
        FrameBuilder.writeQuality(engine.quality.latest, into: &out)
        JSONCodec.writeRaw(",\"sessionId\":", into: &out)
        JSONCodec.writeString(engine.sessionId, into: &out)
        JSONCodec.writeRaw(",\"state\":", into: &out)
        JSONCodec.writeString(doc.callState?.rawValue, into: &out)
        JSONCodec.writeRaw(",\"type\":\"state_change\",\"version\":", into: &out)
        JSONCodec.writeInt(engine.version, into: &out)
        out.append(UInt8(ascii: "}"))
        return Frame(kind: .state, version: engine.version, headroom: headroom, payload: out)
    }

    /// Writes `doc` as `JSONCodec.write(doc.json)` would, straight from its
    /// fields: no member list, no nested dictionaries to hash, sort and free
    /// (BENCHMARKS.md, session 5). The key order is that of
    /// `CallDocument.canonicalMembers`; a test compares the bytes.
    static func writeDocument(_ doc: CallDocument, into out: inout [UInt8]) {
        JSONCodec.writeRaw("{\"answeredAt\":", into: &out)
        JSONCodec.writeInt(doc.answeredAt, into: &out)
        JSONCodec.writeRaw(",\"callId\":", into: &out)
        JSONCodec.writeString(doc.callId, into: &out)
        JSONCodec.writeRaw(",\"callState\":", into: &out)
        JSONCodec.writeString(doc.callState?.rawValue, into: &out)
        JSONCodec.writeRaw(",\"callUUID\":", into: &out)
        JSONCodec.writeString(doc.callUUID, into: &out)
        JSONCodec.writeRaw(",\"calleeSub\":", into: &out)
        JSONCodec.writeString(doc.calleeSub, into: &out)
        JSONCodec.writeRaw(",\"deviceStatus\":", into: &out)
        JSONCodec.writeString(doc.deviceStatus, into: &out)
        JSONCodec.writeRaw(",\"direction\":", into: &out)
        JSONCodec.writeString(doc.direction, into: &out)
        JSONCodec.writeRaw(",\"duration\":", into: &out)
        JSONCodec.writeInt(doc.duration, into: &out)
        JSONCodec.writeRaw(",\"endedAt\":", into: &out)
        JSONCodec.writeInt(doc.endedAt, into: &out)
        JSONCodec.writeRaw(",\"from\":", into: &out)
        JSONCodec.writeString(doc.from, into: &out)
        JSONCodec.writeRaw(",\"lastSync\":", into: &out)
        JSONCodec.writeInt(doc.lastSync, into: &out)
        JSONCodec.writeRaw(",\"logStatus\":", into: &out)
        JSONCodec.writeString(doc.logStatus?.rawValue, into: &out)
        JSONCodec.writeRaw(",\"metadata\":", into: &out)
        JSONCodec.write(.object(doc.metadata), into: &out)
        JSONCodec.writeRaw(",\"phoneNumber\":", into: &out)
        JSONCodec.writeString(doc.phoneNumber, into: &out)
        JSONCodec.writeRaw(",\"provider\":", into: &out)
        JSONCodec.writeString(doc.provider, into: &out)
        JSONCodec.writeRaw(",\"providerCallId\":", into: &out)
        JSONCodec.writeString(doc.providerCallId, into: &out)
        JSONCodec.writeRaw(",\"quality\":", into: &out)
        writeQuality(doc.quality, into: &out)
        // Recording members in byte order: active < duration < format < recordingId.
        JSONCodec.writeRaw(",\"recording\":{\"active\":", into: &out)
        JSONCodec.writeBool(doc.recording.active, into: &out)
        JSONCodec.writeRaw(",\"duration\":", into: &out)
        JSONCodec.writeInt(doc.recording.duration, into: &out)
        JSONCodec.writeRaw(",\"format\":", into: &out)
        JSONCodec.writeString(doc.recording.format, into: &out)
        JSONCodec.writeRaw(",\"recordingId\":", into: &out)
        JSONCodec.writeString(doc.recording.recordingId, into: &out)
        JSONCodec.writeRaw("},\"sessionId\":", into: &out)
        JSONCodec.writeString(doc.sessionId, into: &out)
        JSONCodec.writeRaw(",\"sipCallId\":", into: &out)
        JSONCodec.writeString(doc.sipCallId, into: &out)
        JSONCodec.writeRaw(",\"startedAt\":", into: &out)
        JSONCodec.writeInt(doc.startedAt, into: &out)
        JSONCodec.writeRaw(",\"syncStatus\":", into: &out)
        JSONCodec.writeString(doc.syncStatus.rawValue, into: &out)
        JSONCodec.writeRaw(",\"to\":", into: &out)
        JSONCodec.writeString(doc.to, into: &out)
        JSONCodec.writeRaw(",\"twilioCallSid\":", into: &out)
        JSONCodec.writeString(doc.twilioCallSid, into: &out)
        JSONCodec.writeRaw(",\"version\":", into: &out)
        JSONCodec.writeInt(doc.version, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Writes `snapshot?.json ?? .null`; members in byte order: grade < jitter
    /// < latency < mos < mosSource < packetLoss < rFactor.
    static func writeQuality(_ snapshot: QualitySnapshot?, into out: inout [UInt8]) {
        guard let q = snapshot else { return JSONCodec.writeRaw("null", into: &out) }
        JSONCodec.writeRaw("{\"grade\":", into: &out)
        JSONCodec.writeString(q.grade?.rawValue, into: &out)
        JSONCodec.writeRaw(",\"jitter\":", into: &out)
        JSONCodec.writeDouble(q.jitter, into: &out)
        JSONCodec.writeRaw(",\"latency\":", into: &out)
        JSONCodec.writeDouble(q.latency, into: &out)
        JSONCodec.writeRaw(",\"mos\":", into: &out)
        JSONCodec.writeDouble(q.mos, into: &out)
        JSONCodec.writeRaw(",\"mosSource\":", into: &out)
        JSONCodec.writeString(q.mosSource?.rawValue, into: &out)
        JSONCodec.writeRaw(",\"packetLoss\":", into: &out)
        JSONCodec.writeDouble(q.packetLoss, into: &out)
        JSONCodec.writeRaw(",\"rFactor\":", into: &out)
        JSONCodec.writeDouble(q.rFactor, into: &out)
        out.append(UInt8(ascii: "}"))
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
