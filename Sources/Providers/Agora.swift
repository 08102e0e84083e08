import CallState
import Crypto

/// Agora Notifications (NCS) for RTC channels (`/webhooks/agora`).
///
/// Signature: `Agora-Signature-V2`, hex HMAC-SHA256 of the body under the
/// NCS secret, or, when only it is sent, `Agora-Signature`, hex HMAC-SHA1.
///
/// Mapping (one call = one channel, `providerCallId` = `channelName`):
/// - 101 channel create → `ringing`; 102 channel destroy → `ended`.
/// - 103/107 (broadcaster / communication user joins) and 111 (audience
///   becomes broadcaster): a join. 104/108 (leaves) and 112 (broadcaster
///   becomes audience): a leave. Whether a join connects the call (2nd
///   user) or a leave ends it (last user) depends on who else is in the
///   channel, which one webhook cannot know: the event carries an
///   `AgoraPresence` hint and the hub resolves it with `AgoraChannelPresence`.
/// - 105/106 (audience join/leave) and every other type: ignored, no event.
///
/// ts is `payload.ts` (seconds), never `notifyMs`, which changes on resend;
/// seq is `payload.clientSeq`; eventId is `noticeId`.
public enum Agora {
    static func handle(_ request: WebhookRequest, secret: String, now: Int64) throws(WebhookError) -> WebhookResult {
        try request.requireJSONContentType()
        try verify(request, secret: secret)
        let body = try JSONValue.parseWebhookBody(request.body)
        guard let eventType = try body.int("eventType") else { throw .badRequest("eventType is required") }
        let joined: Bool?
        let state: CallStateValue?
        switch eventType {
        case 101: state = .ringing; joined = nil
        case 102: state = .ended; joined = nil
        case 103, 107, 111: state = nil; joined = true
        case 104, 108, 112: state = nil; joined = false
        default: return WebhookResult(events: [], reply: .ok)
        }
        guard let payload = try body.object("payload") else { throw .badRequest("payload is required") }
        let channel = try payload.requiredString("channelName")
        let ts = try payload.int("ts").map { $0 * 1000 } ?? now
        let seq = try payload.int("clientSeq") ?? 0
        let noticeId = try body.string("noticeId")
        var builder = UpdateBuilder(ts: ts, source: "agora", seq: seq, eventId: noticeId)
        builder.set(.callState, state: state)
        builder.set(.provider, string: "agora")
        builder.set(.providerCallId, string: channel)
        var presence: AgoraPresence?
        if let joined {
            guard let uid = try uidString(payload) else { throw .badRequest("payload.uid is required") }
            presence = AgoraPresence(channelName: channel, uid: uid, joined: joined, clientSeq: seq, ts: ts)
        }
        let event = ProviderEvent(providerCallIds: [channel],
                                  input: builder.input(kind: "agora.\(eventType)", receivedAt: now),
                                  agoraPresence: presence)
        return WebhookResult(events: [event], reply: .ok)
    }

    /// `uid` is a number in NCS; accept a string account name too.
    private static func uidString(_ payload: JSONValue) throws(WebhookError) -> String? {
        switch payload["uid"] {
        case .int(let i)?: return String(i)
        case .string(let s)? where !s.isEmpty: return s
        // Int64(exactly:): a whole number past Int64 (1e30) would trap in Int64(_:) (found by FuzzAgora).
        case .double(let d)? where d.rounded() == d:
            guard let whole = Int64(exactly: d) else { throw .badRequest("payload.uid is out of range") }
            return String(whole)
        case nil, .null?: return nil
        default: throw .badRequest("payload.uid must be a number")
        }
    }

    static func verify(_ request: WebhookRequest, secret: String) throws(WebhookError) {
        let key = Array(secret.utf8)
        if let v2 = request.headers["agora-signature-v2"], !v2.isEmpty {
            let expected = Crypto.hmacSHA256(key: key, message: request.body)
            guard let given = Crypto.fromHex(v2), Crypto.constantTimeEquals(given, expected) else {
                throw .unauthorized("Agora-Signature-V2 does not match")
            }
        } else if let v1 = request.headers["agora-signature"], !v1.isEmpty {
            let expected = Crypto.hmacSHA1(key: key, message: request.body)
            guard let given = Crypto.fromHex(v1), Crypto.constantTimeEquals(given, expected) else {
                throw .unauthorized("Agora-Signature does not match")
            }
        } else {
            throw .unauthorized("missing Agora-Signature-V2 header")
        }
    }
}
