import CallState

/// A rejected client input: the `error` frame / HTTP error it turns into.
public struct InputError: Error, Equatable, Sendable {
    /// `invalid_json`, `invalid_message`, `unknown_type`, `forbidden`.
    public let code: String
    public let message: String

    static func invalid(_ message: String) -> InputError { InputError(code: "invalid_message", message: message) }
}

/// A client or backend input after validation, with the fields the edge
/// already refused (answered in the ack's `ignored`).
public struct DecodedInput: Sendable {
    public var input: Input
    public var ignored: [IgnoredUpdate]

    public init(input: Input, ignored: [IgnoredUpdate] = []) {
        self.input = input
        self.ignored = ignored
    }
}

/// What one accepted input did: the engine's outcome plus what the edge
/// refused before merging (`read_only`, `unknown_field`), for the `ack`.
public struct InputOutcome: Sendable {
    public let outcome: ApplyOutcome
    /// Edge refusals first, then the engine's (`stale`, `conflict`, …).
    public let ignored: [IgnoredUpdate]

    public var applied: [Field] { outcome.applied }
    public var version: Int64 { outcome.version }
    public var duplicate: Bool { outcome.duplicate }
}

/// Turns client-shaped JSON (`report`, `quality` messages, the seed's `/sync`
/// body, backend events) into an `Input` (§2, §3.3).
///
/// Validation is all-or-nothing: a value of the wrong type rejects the whole
/// message, so a client never gets half of a report applied. Unknown and
/// read-only fields are not errors; they are listed in `ignored`.
public enum InputDecoder {
    /// Decodes the `state` / `metadata` members of a `report` message.
    /// - Parameter stateByName: also take `state` as a state or client event
    ///   name (`POST /api/calls/{id}/events`, like the generic webhook); a
    ///   WebSocket `report` keeps the contract's object (§3.3).
    public static func report(_ message: JSONValue, identity: ClientIdentity, receivedAt: Int64,
                              kind: String = "client.report", sourceKind: SourceKind = .client,
                              source: String? = nil, stateByName: Bool = false) throws(InputError) -> DecodedInput {
        let ts = try timestamp(message["ts"], default: receivedAt)
        let seq = try integer(message["seq"], name: "seq") ?? 0
        let eventId = try identifier(message["id"])
        let src = source ?? identity.source
        var builder = FieldValidator(ts: ts, source: src, sourceKind: sourceKind, seq: seq, eventId: eventId)
        switch message["state"] {
        case .object(let fields)?:
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) { try builder.add(name, value) }
        case .string(let name)? where stateByName:
            // The generic webhook's shape, `"state": "connected"`, means the
            // same here: one body works on both backend routes (issue 27).
            guard let state = ClientEvent.callState(backendName: name) else { throw .invalid("unknown state \"\(name)\"") }
            builder.append(.callState, .string(state.rawValue))
        case nil:
            break
        default:
            throw .invalid(stateByName ? "state must be an object of fields or a state name" : "state must be an object")
        }
        if let metadata = message["metadata"] { try builder.add("metadata", metadata) }
        var input = Input(kind: kind, source: src, sourceKind: sourceKind, eventId: eventId,
                          receivedAt: receivedAt, updates: builder.updates)
        if let metrics = message["metrics"] {
            input.quality = [try qualitySample(metrics, ts: ts, source: src)]
        }
        return DecodedInput(input: input, ignored: builder.ignored)
    }

    /// Decodes a `quality` message (§3.3, §4).
    public static func quality(_ message: JSONValue, identity: ClientIdentity, receivedAt: Int64) throws(InputError) -> DecodedInput {
        let ts = try timestamp(message["ts"], default: receivedAt)
        guard let metrics = message["metrics"] else { throw .invalid("quality needs metrics") }
        let sample = try qualitySample(metrics, ts: ts, source: identity.source)
        let input = Input(kind: "client.quality", source: identity.source, sourceKind: .client,
                          eventId: try identifier(message["id"]), receivedAt: receivedAt, quality: [sample])
        return DecodedInput(input: input, ignored: [])
    }

    /// Decodes the seed's `POST /api/calls/{id}/sync` body `{event, data, timestamp}`:
    /// `event` maps to `callState` (§1.1), `data` holds fields, `data.quality` a sample.
    public static func sync(_ body: JSONValue, identity: ClientIdentity, receivedAt: Int64) throws(InputError) -> DecodedInput {
        guard case .object = body else { throw .invalid("body must be a JSON object") }
        let ts = try timestamp(body["timestamp"] ?? body["ts"], default: receivedAt)
        let eventId = try identifier(body["id"] ?? body["data"]?["id"])
        var builder = FieldValidator(ts: ts, source: identity.source, sourceKind: .client,
                                    seq: try integer(body["seq"], name: "seq") ?? 0, eventId: eventId)
        if let event = body["event"] {
            guard let name = event.stringValue else { throw .invalid("event must be a string") }
            guard let state = ClientEvent.callState(backendName: name) else { throw .invalid("unknown event \"\(name)\"") }
            builder.append(.callState, .string(state.rawValue))
        }
        var quality: [QualitySample] = []
        if let data = body["data"], data != .null {
            guard case .object(let fields) = data else { throw .invalid("data must be an object") }
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
                switch name {
                case "quality": quality.append(try qualitySample(value, ts: ts, source: identity.source))
                case "id": continue
                default: try builder.add(name, value)
                }
            }
        }
        let input = Input(kind: "client.sync", source: identity.source, sourceKind: .client, eventId: eventId,
                          receivedAt: receivedAt, updates: builder.updates, quality: quality)
        return DecodedInput(input: input, ignored: builder.ignored)
    }

    // MARK: - Pieces

    static func timestamp(_ value: JSONValue?, default fallback: Int64) throws(InputError) -> Int64 {
        guard let value, value != .null else { return fallback }
        guard let ms = value.intValue, ms >= 0 else { throw .invalid("ts must be milliseconds since the epoch") }
        return ms
    }

    static func integer(_ value: JSONValue?, name: String) throws(InputError) -> Int64? {
        guard let value, value != .null else { return nil }
        guard let i = value.intValue else { throw .invalid("\(name) must be an integer") }
        return i
    }

    static func identifier(_ value: JSONValue?) throws(InputError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?: return s.isEmpty ? nil : s
        case .int(let i)?: return String(i)
        default: throw .invalid("id must be a string or an integer")
        }
    }

    /// Metrics in ms / percent, or WebRTC `getStats` seconds (`rttSec`, `jitterSec`).
    static func qualitySample(_ metrics: JSONValue, ts: Int64, source: String) throws(InputError) -> QualitySample {
        guard case .object(let m) = metrics else { throw .invalid("metrics must be an object") }
        func number(_ key: String, _ range: ClosedRange<Double>) throws(InputError) -> Double? {
            guard let v = m[key], v != .null else { return nil }
            guard let d = v.doubleValue, d.isFinite, range.contains(d) else {
                throw .invalid("\(key) must be a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return d
        }
        var rtt = try number("rtt", 0...600_000)
        if rtt == nil { rtt = try number("rttSec", 0...600).map { $0 * 1000 } }
        var latency = try number("latency", 0...300_000)
        if latency == nil { latency = rtt.map { $0 / 2 } }
        var jitter = try number("jitter", 0...600_000)
        if jitter == nil { jitter = try number("jitterSec", 0...600).map { $0 * 1000 } }
        let loss = try number("packetLoss", 0...100)
        let mos = try number("mos", 1...5)
        guard latency != nil || jitter != nil || loss != nil || mos != nil else {
            throw .invalid("metrics needs latency or rtt, jitter, packetLoss or mos")
        }
        return QualitySample(ts: ts, latency: latency, rtt: rtt, jitter: jitter, packetLoss: loss, mos: mos, source: source)
    }
}

/// Validates client-supplied field values one by one (the §1 types and
/// vocabularies) and collects the updates; refusals of unknown and read-only
/// fields are kept for the ack.
struct FieldValidator {
    private var builder: UpdateBuilder
    var ignored: [IgnoredUpdate] = []
    var updates: [Update] { builder.updates }

    static let directions: Set<String> = ["inbound", "outbound"]
    static let deviceStatuses: Set<String> = ["uninitialized", "registered", "ready", "busy", "offline"]
    static let recordingFormats: Set<String> = ["mp3", "wav"]

    init(ts: Int64, source: String, sourceKind: SourceKind, seq: Int64, eventId: String?) {
        builder = UpdateBuilder(ts: ts, source: source, sourceKind: sourceKind, seq: seq, eventId: eventId)
    }

    mutating func append(_ field: Field, _ value: JSONValue) {
        builder.set(field, value)
    }

    mutating func add(_ name: String, _ value: JSONValue) throws(InputError) {
        if Field.readOnlyNames.contains(name) {
            ignored.append(IgnoredUpdate(field: name, reason: .readOnly))
            return
        }
        switch name {
        case "metadata":
            guard case .object(let members) = value else { throw .invalid("metadata must be an object") }
            for (key, v) in members.sorted(by: { $0.key < $1.key }) {
                switch v {
                case .string, .int, .double, .bool, .null: append(.metadata(key), v)
                default: throw .invalid("metadata.\(key) must be a string, number, boolean or null")
                }
            }
        case "recording":
            guard case .object(let members) = value else { throw .invalid("recording must be an object") }
            for (key, v) in members.sorted(by: { $0.key < $1.key }) { try add("recording." + key, v) }
        case "callState":
            guard let s = value.stringValue else { throw .invalid("callState must be a string") }
            guard let state = ClientEvent.callState(for: s) else { throw .invalid("unknown callState \"\(s)\"") }
            append(.callState, .string(state.rawValue))
        case "direction":
            try enumerated(.direction, value, Self.directions)
        case "deviceStatus":
            try enumerated(.deviceStatus, value, Self.deviceStatuses)
        case "recording.format":
            try enumerated(.recordingFormat, value, Self.recordingFormats)
        case "recording.active":
            guard value.boolValue != nil || value == .null else { throw .invalid("recording.active must be a boolean") }
            append(.recordingActive, value)
        case "recording.duration":
            guard value == .null || (value.doubleValue.map { $0 >= 0 } ?? false) else {
                throw .invalid("recording.duration must be a non-negative number of seconds")
            }
            append(.recordingDuration, value)
        default:
            guard let field = Field(name: name) else {
                ignored.append(IgnoredUpdate(field: name, reason: .unknownField))
                return
            }
            guard value.stringValue != nil || value == .null else { throw .invalid("\(name) must be a string or null") }
            append(field, value)
        }
    }

    mutating func enumerated(_ field: Field, _ value: JSONValue, _ allowed: Set<String>) throws(InputError) {
        guard value == .null || value.stringValue.map(allowed.contains) == true else {
            throw .invalid("\(field.name) must be one of \(allowed.sorted().joined(separator: ", "))")
        }
        append(field, value)
    }
}
