/// A writable field of the unified document (PROTOCOL.md §1).
///
/// Derived fields (`logStatus`, `startedAt`, `answeredAt`, `endedAt`,
/// `duration`, `lastSync`, `syncStatus`, `version`) and `quality` are not
/// fields: no input can write them, and `Field(name:)` returns nil for them so
/// the edge can answer `read_only`. `recording` is split into its members so a
/// recording callback and a client can each fill what they know. `metadata` is
/// merged per key.
public enum Field: Hashable, Sendable, Codable {
    case callId, callUUID, direction, from, to, phoneNumber
    case provider, providerCallId, twilioCallSid, sipCallId
    case deviceStatus, callState
    case recordingActive, recordingId, recordingFormat, recordingDuration
    /// The user whose devices ring (PROTOCOL.md §10).
    case calleeSub
    case metadata(String)

    /// Fields of §1 that only the hub derives: the edge answers these `read_only`.
    public static let readOnlyNames: Set<String> = [
        "logStatus", "startedAt", "answeredAt", "endedAt", "duration",
        "lastSync", "syncStatus", "version", "quality", "sessionId",
    ]

    /// Every top-level field (metadata keys excluded), in document order.
    public static let scalarFields: [Field] = [
        .callId, .callUUID, .direction, .from, .to, .phoneNumber,
        .provider, .providerCallId, .twilioCallSid, .sipCallId,
        .deviceStatus, .callState,
        .recordingActive, .recordingId, .recordingFormat, .recordingDuration,
        .calleeSub,
    ]

    /// The wire name: `callState`, `recording.active`, `metadata.agent`.
    public var name: String {
        switch self {
        case .callId: return "callId"
        case .callUUID: return "callUUID"
        case .direction: return "direction"
        case .from: return "from"
        case .to: return "to"
        case .phoneNumber: return "phoneNumber"
        case .provider: return "provider"
        case .providerCallId: return "providerCallId"
        case .twilioCallSid: return "twilioCallSid"
        case .sipCallId: return "sipCallId"
        case .deviceStatus: return "deviceStatus"
        case .callState: return "callState"
        case .recordingActive: return "recording.active"
        case .recordingId: return "recording.recordingId"
        case .recordingFormat: return "recording.format"
        case .recordingDuration: return "recording.duration"
        case .calleeSub: return "calleeSub"
        case .metadata(let key): return "metadata." + key
        }
    }

    /// Parses a wire name; nil for unknown and read-only names.
    public init?(name: String) {
        if name.hasPrefix("metadata.") {
            let key = String(name.dropFirst("metadata.".count))
            guard !key.isEmpty else { return nil }
            self = .metadata(key)
            return
        }
        guard let field = Field.scalarFields.first(where: { $0.name == name }) else { return nil }
        self = field
    }

    /// Whether this field holds personal data (redacted in logs, encrypted at rest).
    public var isPII: Bool {
        switch self {
        case .from, .to, .phoneNumber, .metadata: return true
        default: return false
        }
    }
}
