import CallState

/// What one webhook said about one call, ready for the hub.
public struct ProviderEvent: Sendable {
    /// The session named explicitly: `?session=`, ElevenLabs'
    /// `dynamic_variables.session_id`, the generic route's path. When nil the
    /// hub resolves by `providerCallIds`, then creates a session (PROTOCOL §6).
    public var sessionId: String?
    /// Candidates for lookup by `providerCallId`, in preference order
    /// (CallSid, conversation_id, channelName, call_control_id, ARI channel id…).
    public var providerCallIds: [String]
    /// The updates and quality samples (PROTOCOL §2).
    public var input: Input
    /// Agora only: a join or leave the hub must count per channel before it
    /// knows whether the call is connected or over. See `AgoraPresence`.
    public var agoraPresence: AgoraPresence?

    public init(sessionId: String? = nil, providerCallIds: [String] = [], input: Input,
                agoraPresence: AgoraPresence? = nil) {
        self.sessionId = sessionId
        self.providerCallIds = providerCallIds
        self.input = input
        self.agoraPresence = agoraPresence
    }
}

/// The outcome of `Webhooks.handle`: zero or more events (zero for event
/// types that say nothing about call state) and the reply to send.
public struct WebhookResult: Sendable {
    public var events: [ProviderEvent]
    public var reply: WebhookReply
    /// Generic / Asterisk: how the signature names its target; the hub
    /// checks it against its `SignatureMemory` before applying anything.
    public var binding: SignatureBinding?

    public init(events: [ProviderEvent], reply: WebhookReply, binding: SignatureBinding? = nil) {
        self.events = events
        self.reply = reply
        self.binding = binding
    }
}
