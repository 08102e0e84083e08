import CallState
import Crypto

/// ElevenLabs Agents post-call webhooks (`/webhooks/elevenlabs`).
///
/// Signature: `ElevenLabs-Signature: t=<s>,v0=<hex HMAC-SHA256 of "t.body">`,
/// tolerance 30 minutes.
///
/// - `post_call_transcription` → `ended`.
/// - `call_initiation_failure` → `busy` / `no_answer` / `failed` by
///   `failure_reason` (`busy`; `no-answer`/`no_answer`; anything else).
/// - `post_call_audio` → no state: provider and conversation id only. Its
///   body carries the whole call as base64; strings over 64 KiB are dropped
///   while parsing so the audio is never copied into Swift.
/// - other types: ignored, no event.
///
/// ts is `event_timestamp` (s); eventId `conversation_id:type:event_timestamp`.
///
/// The call's outcome goes into `metadata`, for dashboards and backends:
/// `agentId` (`data.agent_id`), `callDurationSecs`
/// (`data.metadata.call_duration_secs`), `callSuccessful`
/// (`data.analysis.call_successful`: `success`, `failure`, `unknown`) and
/// `transcriptSummary` (`data.analysis.transcript_summary`, cut to
/// `summaryMaxChars`). The transcript itself is never kept.
public enum ElevenLabs {
    static let toleranceSeconds: Int64 = 30 * 60
    /// `providers.elevenlabs.summaryMaxChars` unless configured.
    public static let defaultSummaryMaxChars = 500

    static func handle(_ request: WebhookRequest, secret: String, now: Int64,
                       summaryMaxChars: Int = defaultSummaryMaxChars) throws(WebhookError) -> WebhookResult {
        try request.requireJSONContentType()
        try SignatureHeader.verify(request.headers["elevenlabs-signature"], name: "ElevenLabs-Signature",
                                   scheme: "v0", secret: secret, body: request.body, now: now,
                                   toleranceSeconds: toleranceSeconds)
        return try map(JSONValue.parseWebhookBody(request.body, maxStringBytes: 64 * 1024), now: now,
                       summaryMaxChars: summaryMaxChars)
    }

    /// Maps a verified body to the call's updates; shared by the buffered
    /// path above and the streamed one (`ElevenLabsAudioStream`).
    /// - Parameter summaryMaxChars: the longest `transcriptSummary` kept, in
    ///   characters; 0 keeps none.
    static func map(_ body: JSONValue, now: Int64,
                    summaryMaxChars: Int = defaultSummaryMaxChars) throws(WebhookError) -> WebhookResult {
        let type = try body.requiredString("type")
        guard ["post_call_transcription", "post_call_audio", "call_initiation_failure"].contains(type) else {
            return WebhookResult(events: [], reply: .ok)
        }
        guard let data = try body.object("data") else { throw .badRequest("data is required") }
        let conversationId = try data.requiredString("conversation_id")
        let eventTimestamp = try body.int("event_timestamp")
        let ts = eventTimestamp.map { $0 * 1000 } ?? now

        let state: CallStateValue?
        switch type {
        case "post_call_transcription": state = .ended
        case "call_initiation_failure":
            switch try data.string("failure_reason") {
            case "busy"?: state = .busy
            case "no-answer"?, "no_answer"?: state = .noAnswer
            default: state = .failed
            }
        default: state = nil
        }

        var builder = UpdateBuilder(ts: ts, source: "elevenlabs",
                                    eventId: "\(conversationId):\(type):\(eventTimestamp.map(String.init) ?? "")")
        builder.set(.callState, state: state)
        builder.set(.provider, string: "elevenlabs")
        builder.set(.providerCallId, string: conversationId)
        builder.set(.metadata("agentId"), string: try data.string("agent_id"))

        // Telephony details: `metadata.phone_call` (transcription) or the
        // carrier's raw callback in `metadata.body` (initiation failure).
        var callSid: String?
        let metadata = try data.object("metadata")
        if let phone = try metadata?.object("phone_call") {
            callSid = try phone.string("call_sid")
            let direction = try phone.string("direction")
            let agent = try phone.string("agent_number")
            let external = try phone.string("external_number")
            switch direction {
            case "inbound"?:
                builder.set(.direction, string: "inbound")
                builder.set(.from, string: external)
                builder.set(.to, string: agent)
            case "outbound"?:
                builder.set(.direction, string: "outbound")
                builder.set(.from, string: agent)
                builder.set(.to, string: external)
            default: break
            }
            if try phone.string("type") == "twilio" { builder.set(.twilioCallSid, string: callSid) }
        }
        if callSid == nil, let carrier = try metadata?.object("body") {
            callSid = try carrier.string("CallSid")
            if try metadata?.string("type") == "twilio" { builder.set(.twilioCallSid, string: callSid) }
        }

        try outcome(data, metadata: metadata, summaryMaxChars: summaryMaxChars, into: &builder)

        var sessionId: String?
        if let variables = try data.object("conversation_initiation_client_data")?.object("dynamic_variables"),
           let id = try variables.string("session_id") {
            guard SessionID.isValid(id) else { throw .unprocessable("dynamic_variables.session_id is not a valid session id") }
            sessionId = id
        }
        var candidates = [conversationId]
        if let callSid, !callSid.isEmpty { candidates.append(callSid) }
        let event = ProviderEvent(sessionId: sessionId, providerCallIds: candidates,
                                  input: builder.input(kind: "elevenlabs.\(type)", receivedAt: now))
        return WebhookResult(events: [event], reply: .ok)
    }

    /// The outcome an AI call leaves (`post_call_transcription`): duration,
    /// the analysis' verdict and a bounded summary, as `metadata` keys.
    static func outcome(_ data: JSONValue, metadata: JSONValue?, summaryMaxChars: Int,
                        into builder: inout UpdateBuilder) throws(WebhookError) {
        if let seconds = try metadata?.number("call_duration_secs") {
            builder.set(.metadata("callDurationSecs"), seconds.rounded() == seconds && abs(seconds) < 9.0e15
                        ? .int(Int64(seconds)) : .double(seconds))
        }
        guard let analysis = try data.object("analysis") else { return }
        builder.set(.metadata("callSuccessful"), string: try analysis.string("call_successful"))
        if summaryMaxChars > 0, let summary = try analysis.string("transcript_summary") {
            builder.set(.metadata("transcriptSummary"), string: bounded(summary, maxChars: summaryMaxChars))
        }
    }

    /// `text` cut to at most `maxChars` characters, the last one an
    /// ellipsis when something was cut, so a reader knows there was more.
    static func bounded(_ text: String, maxChars: Int) -> String {
        guard text.count > maxChars else { return text }
        return String(text.prefix(max(0, maxChars - 1))) + "…"
    }
}
