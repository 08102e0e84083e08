/// What the engine needs to know about each field: where its register lives,
/// which document key it feeds, and which values it accepts.
extension Field {
    /// Index of the field's register among `Field.scalarFields`; nil for metadata.
    var slot: Int? {
        switch self {
        case .callId: return 0
        case .callUUID: return 1
        case .direction: return 2
        case .from: return 3
        case .to: return 4
        case .phoneNumber: return 5
        case .provider: return 6
        case .providerCallId: return 7
        case .twilioCallSid: return 8
        case .sipCallId: return 9
        case .deviceStatus: return 10
        case .callState: return 11
        case .recordingActive: return 12
        case .recordingId: return 13
        case .recordingFormat: return 14
        case .recordingDuration: return 15
        case .calleeSub: return 16
        case .metadata: return nil
        }
    }

    /// The top-level document key this field's value appears under.
    var documentKey: DocumentKey {
        switch self {
        case .callId: return .callId
        case .callUUID: return .callUUID
        case .direction: return .direction
        case .from: return .from
        case .to: return .to
        case .phoneNumber: return .phoneNumber
        case .provider: return .provider
        case .providerCallId: return .providerCallId
        case .twilioCallSid: return .twilioCallSid
        case .sipCallId: return .sipCallId
        case .deviceStatus: return .deviceStatus
        case .callState: return .callState
        case .recordingActive, .recordingId, .recordingFormat, .recordingDuration: return .recording
        case .calleeSub: return .calleeSub
        case .metadata: return .metadata
        }
    }

    /// Allowed `direction` values.
    static let directions: Set<String> = ["inbound", "outbound"]
    /// Allowed `deviceStatus` values.
    static let deviceStatuses: Set<String> = ["uninitialized", "registered", "ready", "busy", "offline"]
    /// Allowed `recording.format` values.
    static let recordingFormats: Set<String> = ["mp3", "wav"]

    /// Whether `value` has the type §1 gives this field. `null` clears any field
    /// but `callState` (a call never goes back to "unknown"). The edge validates
    /// first; this keeps a bad value from reaching the typed document.
    func accepts(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.callState, .string(let s)): return CallStateValue.parse(s) != nil
        case (.callState, _): return false
        case (_, .null): return true
        case (.direction, .string(let s)): return Field.directions.contains(s)
        case (.deviceStatus, .string(let s)): return Field.deviceStatuses.contains(s)
        case (.recordingFormat, .string(let s)): return Field.recordingFormats.contains(s)
        case (.recordingActive, .bool): return true
        case (.recordingDuration, .int(let i)): return i >= 0
        case (.recordingDuration, .double(let d)): return d.isFinite && d >= 0
        case (.metadata, .string), (.metadata, .int), (.metadata, .bool): return true
        case (.metadata, .double(let d)): return d.isFinite
        case (.callId, .string), (.callUUID, .string), (.from, .string), (.to, .string),
             (.phoneNumber, .string), (.provider, .string), (.providerCallId, .string),
             (.twilioCallSid, .string), (.sipCallId, .string), (.recordingId, .string), (.calleeSub, .string):
            return true
        default:
            return false
        }
    }
}
