/// The merged document of one session (PROTOCOL.md §1), derived fields included.
///
/// A snapshot: built by `CallSession.document` from the session's registers.
public struct CallDocument: Hashable, Sendable {
    /// The session (§1: 1-128 of `[A-Za-z0-9._:-]`).
    public var sessionId: String
    /// The backend's canonical id.
    public var callId: String?
    /// CallKit / CallKeep UUID on the device.
    public var callUUID: String?
    /// `inbound` or `outbound`.
    public var direction: String?
    /// PII.
    public var from: String?
    /// PII.
    public var to: String?
    /// PII.
    public var phoneNumber: String?
    /// `twilio`, `elevenlabs`, `agora`, `telnyx`, `asterisk`, …
    public var provider: String?
    /// The provider's id of the call (CallSid, conversation_id, channelName, …).
    public var providerCallId: String?
    /// Kept under this name for seed compatibility.
    public var twilioCallSid: String?
    /// Kept under this name for seed compatibility.
    public var sipCallId: String?
    /// The user whose devices ring when the call rings (§10).
    public var calleeSub: String?
    /// `uninitialized`, `registered`, `ready`, `busy` or `offline` (client-reported).
    public var deviceStatus: String?
    /// The merged lifecycle state.
    public var callState: CallStateValue?
    /// Derived from `callState`.
    public var logStatus: LogStatus?
    /// The recording members.
    public var recording: Recording
    /// The latest quality sample.
    public var quality: QualitySnapshot?
    /// Free-form per-key LWW values (keys whose winner is `null` are absent).
    public var metadata: [String: JSONValue]
    /// Earliest `ts` of any observed `callState` of lifecycle rank ≥ 1.
    public var startedAt: Int64?
    /// Earliest `ts` of any observed connected-rank (4) `callState`.
    public var answeredAt: Int64?
    /// Earliest `ts` of any observed terminal `callState`.
    public var endedAt: Int64?
    /// `(endedAt - answeredAt) / 1000`, whole seconds, never negative; nil unless both are known.
    public var duration: Int64?
    /// Hub time of the last input that changed the document or quality.
    public var lastSync: Int64?
    /// §2.5.
    public var syncStatus: SyncStatus
    /// §2.6.
    public var version: Int64

    /// Creates an empty document for a session.
    public init(sessionId: String) {
        self.sessionId = sessionId
        recording = Recording()
        metadata = [:]
        syncStatus = .synchronized
        version = 0
    }

    /// The document object with every §1 key present, `null` when unknown, in
    /// the wire names of §1. `canonicalText` of it gives stable bytes.
    public var json: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: canonicalMembers.lazy.map { ($0.key, $0.value) }))
    }

    /// `json`'s members already in canonical (UTF-8 byte) key order, built
    /// without a dictionary. The hub's `state_change` writer
    /// (`FrameBuilder.writeDocument`) writes the same order straight from the
    /// fields; tests check this order against sorting, and that writer's
    /// bytes against encoding `json`.
    public var canonicalMembers: [(key: String, value: JSONValue)] {
        func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func int(_ i: Int64?) -> JSONValue { i.map(JSONValue.int) ?? .null }
        return [
            ("answeredAt", int(answeredAt)),
            ("callId", text(callId)),
            ("callState", text(callState?.rawValue)),
            ("callUUID", text(callUUID)),
            ("calleeSub", text(calleeSub)),
            ("deviceStatus", text(deviceStatus)),
            ("direction", text(direction)),
            ("duration", int(duration)),
            ("endedAt", int(endedAt)),
            ("from", text(from)),
            ("lastSync", int(lastSync)),
            ("logStatus", text(logStatus?.rawValue)),
            ("metadata", .object(metadata)),
            ("phoneNumber", text(phoneNumber)),
            ("provider", text(provider)),
            ("providerCallId", text(providerCallId)),
            ("quality", quality?.json ?? .null),
            ("recording", recording.json),
            ("sessionId", .string(sessionId)),
            ("sipCallId", text(sipCallId)),
            ("startedAt", int(startedAt)),
            ("syncStatus", .string(syncStatus.rawValue)),
            ("to", text(to)),
            ("twilioCallSid", text(twilioCallSid)),
            ("version", .int(version)),
        ]
    }

    /// `json` without the keys that depend on arrival rather than on the set of
    /// updates: `lastSync` and `syncStatus` (hub time), `version` (counts
    /// changes, which depend on order) and `quality` (samples are not merged
    /// by the LWW order). Every other key is a pure function of the set of
    /// updates (§2.2); the convergence tests compare this.
    public var convergentJSON: JSONValue {
        var members = json.objectValue ?? [:]
        for key in CallDocument.arrivalKeys { members.removeValue(forKey: key) }
        return .object(members)
    }

    /// The keys whose values depend on arrival order (see `convergentJSON`).
    static let arrivalKeys = ["quality", "lastSync", "syncStatus", "version"]
}
