import CallState

/// Backend events posted to `/webhooks/generic/{sessionId}`, signed with
/// `X-Switchboard-Signature: t=<s>,v2=<hex HMAC-SHA256 of "t.<path>.body">`
/// (or the older `v1=<hex HMAC-SHA256 of "t.body">`, which the hub binds to
/// the first path it is used on: `PathBoundSignature.swift`) under
/// `providers.generic.secret`, 5 minutes tolerance. `sourceKind` is
/// `backend`, source `generic`.
///
/// Body, every member optional:
/// ```
/// {"id": "evt-1",                 // eventId (idempotency)
///  "ts": 1795734605120,           // ms; receive time when absent
///  "state": "connected",          // §1.1 state or client event name, or an
///                                 // object of fields as /events takes it
///                                 // ({"callState": "connected", …})
///  "metadata": {"agent": "ana"},  // string / number / bool values
///  "fields": {"direction": "outbound", "recording.active": true, …},
///  "quality": {"rtt": 120, "jitter": 8, "packetLoss": 0.5, "mos": 4.1}}
/// ```
/// Unknown states, unknown or read-only field names, and values of the
/// wrong kind are 422.
public enum Generic {
    static let toleranceSeconds: Int64 = 5 * 60

    static func handle(_ request: WebhookRequest, sessionId: String, secret: String,
                       now: Int64) throws(WebhookError) -> WebhookResult {
        try request.requireJSONContentType()
        let binding = try SignatureHeader.verifyBound(request, secret: secret, now: now, toleranceSeconds: toleranceSeconds)
        var result = try parse(request, sessionId: sessionId, now: now)
        result.binding = binding
        return result
    }

    /// The body of a verified request → its event (400 / 422 on bad input).
    static func parse(_ request: WebhookRequest, sessionId: String, now: Int64) throws(WebhookError) -> WebhookResult {
        let body = try JSONValue.parseWebhookBody(request.body)
        let id = try body.string("id")
        let ts = try body.int("ts") ?? now
        var builder = UpdateBuilder(ts: ts, source: "generic", sourceKind: .backend, eventId: id)
        // `state` as a name, or as the object `POST /api/calls/{id}/events`
        // takes (`{"callState": …, "direction": …}`): a backend posting to
        // both routes should not need two shapes (issue 27).
        switch body["state"] {
        case .string(let name)?:
            guard let state = ClientEvent.callState(backendName: name) else { throw .unprocessable("unknown state \"\(name)\"") }
            builder.set(.callState, state: state)
        case .object(let fields)?:
            try setFields(&builder, fields)
        case nil, .null?:
            break
        default:
            // A wrong JSON type is malformed (400), as for every other member.
            throw .badRequest("state must be a state name or an object of fields")
        }
        if let metadata = try body.object("metadata")?.objectValue {
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                try setField(&builder, name: "metadata." + key, value: value)
            }
        }
        if let fields = try body.object("fields")?.objectValue {
            try setFields(&builder, fields)
        }
        var quality: [QualitySample] = []
        if let metrics = try body.object("quality") {
            quality.append(try qualitySample(metrics, ts: ts, source: "generic"))
        }
        let event = ProviderEvent(sessionId: sessionId, providerCallIds: [],
                                  input: builder.input(kind: "generic.event", receivedAt: now, quality: quality))
        return WebhookResult(events: [event], reply: .ok)
    }

    /// An object of wire fields; `recording` and `metadata` may be nested objects.
    static func setFields(_ builder: inout UpdateBuilder, _ fields: [String: JSONValue]) throws(WebhookError) {
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            if name == "recording", case .object(let members) = value {
                for (member, v) in members.sorted(by: { $0.key < $1.key }) {
                    try setField(&builder, name: "recording." + member, value: v)
                }
            } else if name == "metadata", case .object(let members) = value {
                for (member, v) in members.sorted(by: { $0.key < $1.key }) {
                    try setField(&builder, name: "metadata." + member, value: v)
                }
            } else {
                try setField(&builder, name: name, value: value)
            }
        }
    }

    /// Validates one wire field and its value (§1 types and vocabularies).
    static func setField(_ builder: inout UpdateBuilder, name: String, value: JSONValue) throws(WebhookError) {
        guard let field = Field(name: name) else {
            throw .unprocessable(Field.readOnlyNames.contains(name) ? "\(name) is read-only" : "unknown field \(name)")
        }
        func oneOf(_ allowed: Set<String>) throws(WebhookError) {
            guard let s = value.stringValue, allowed.contains(s) else {
                throw .unprocessable("\(name) must be one of \(allowed.sorted().joined(separator: ", "))")
            }
        }
        switch field {
        case .callState:
            guard let s = value.stringValue, let state = ClientEvent.callState(backendName: s) else {
                throw .unprocessable("unknown state for callState")
            }
            builder.set(.callState, state: state)
            return
        case .direction: try oneOf(["inbound", "outbound"])
        case .deviceStatus: try oneOf(["uninitialized", "registered", "ready", "busy", "offline"])
        case .recordingFormat: try oneOf(["mp3", "wav"])
        case .recordingActive:
            guard value.boolValue != nil else { throw .unprocessable("\(name) must be a boolean") }
        case .recordingDuration:
            guard let d = value.doubleValue, d >= 0 else { throw .unprocessable("\(name) must be a number of seconds") }
        case .metadata:
            switch value {
            case .string, .int, .double, .bool: break
            default: throw .unprocessable("\(name) must be a string, number or boolean")
            }
        default:
            guard value.stringValue != nil else { throw .unprocessable("\(name) must be a string") }
        }
        builder.set(field, value)
    }

    /// §4 quality input: `latency` or `rtt` (ms) or `rttSec`, `jitter` (ms)
    /// or `jitterSec`, `packetLoss` (0-100), optional `mos` (1-4.5).
    static func qualitySample(_ metrics: JSONValue, ts: Int64, source: String) throws(WebhookError) -> QualitySample {
        func metric(_ key: String) throws(WebhookError) -> Double? {
            guard let v = metrics[key], v != .null else { return nil }
            guard let d = v.doubleValue, d.isFinite, d >= 0 else { throw .unprocessable("quality.\(key) must be a non-negative number") }
            return d
        }
        var sample = QualitySample(ts: ts, source: source)
        // Not `??`: its rethrowing autoclosure would lose the typed throw.
        sample.rtt = try metric("rtt")
        if sample.rtt == nil { sample.rtt = try metric("rttSec").map { $0 * 1000 } }
        sample.latency = try metric("latency")
        if sample.latency == nil { sample.latency = sample.rtt.map { $0 / 2 } }
        sample.jitter = try metric("jitter")
        if sample.jitter == nil { sample.jitter = try metric("jitterSec").map { $0 * 1000 } }
        sample.packetLoss = try metric("packetLoss")
        sample.mos = try metric("mos")
        if let loss = sample.packetLoss, loss > 100 { throw .unprocessable("quality.packetLoss must be 0-100") }
        if let mos = sample.mos, !(1...4.5).contains(mos) { throw .unprocessable("quality.mos must be 1-4.5") }
        if sample.latency == nil && sample.jitter == nil && sample.packetLoss == nil && sample.mos == nil {
            throw .unprocessable("quality needs latency, rtt, jitter, packetLoss or mos")
        }
        return sample
    }
}
