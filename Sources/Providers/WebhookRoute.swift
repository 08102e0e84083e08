import CallState

/// The webhook routes of PROTOCOL.md §6.
public enum WebhookRoute: Sendable, Equatable {
    case twilioStatus, twilioRecording, twilioVoice
    case elevenlabs, agora, telnyx, asterisk
    /// `/webhooks/generic/{sessionId}`
    case generic(sessionId: String)

    /// Maps a request path (no query) to its route; nil for other paths and
    /// for a generic path whose session id is invalid (§1).
    public init?(path: String) {
        switch path {
        case "/api/twilio/status": self = .twilioStatus
        case "/api/twilio/recording": self = .twilioRecording
        case "/api/twilio/voice": self = .twilioVoice
        case "/webhooks/elevenlabs": self = .elevenlabs
        case "/webhooks/agora": self = .agora
        case "/webhooks/telnyx": self = .telnyx
        case "/webhooks/asterisk": self = .asterisk
        default:
            let prefix = "/webhooks/generic/"
            guard path.hasPrefix(prefix) else { return nil }
            let id = path.dropFirst(prefix.count)
            guard SessionID.isValid(id) else { return nil }
            self = .generic(sessionId: String(id))
        }
    }

    /// The path this route answers on.
    public var path: String {
        switch self {
        case .twilioStatus: return "/api/twilio/status"
        case .twilioRecording: return "/api/twilio/recording"
        case .twilioVoice: return "/api/twilio/voice"
        case .elevenlabs: return "/webhooks/elevenlabs"
        case .agora: return "/webhooks/agora"
        case .telnyx: return "/webhooks/telnyx"
        case .asterisk: return "/webhooks/asterisk"
        case .generic(let id): return "/webhooks/generic/" + id
        }
    }
}
