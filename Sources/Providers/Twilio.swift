import CallState
import Crypto
import JSONCodec

/// Twilio voice webhooks: status callbacks, recording callbacks and the
/// voice URL (`/api/twilio/{status,recording,voice}`).
///
/// Signature (`X-Twilio-Signature`): base64 HMAC-SHA1 under the auth token
/// of `publicUrl + path + "?" + rawQuery`, followed, for form bodies, by
/// every POST parameter's name and value, sorted by name (then value).
/// Both the URL with and without the scheme's default port are accepted,
/// because Twilio signs whichever form it was configured with. JSON bodies
/// are signed over the URL alone, which must carry `bodySHA256`, the hex
/// SHA-256 of the body.
public enum Twilio {
    /// Which of the three Twilio callbacks a request is.
    enum Callback: String {
        case status, recording, voice
    }

    /// §1.1: Twilio `CallStatus` → `callState`.
    static let callStatusMap: [String: CallStateValue] = [
        "queued": .queued, "initiated": .initiated, "ringing": .ringing,
        "in-progress": .connected, "completed": .ended, "busy": .busy,
        "failed": .failed, "no-answer": .noAnswer, "canceled": .canceled,
    ]

    static func handle(_ callback: Callback, _ request: WebhookRequest, token: String, publicUrl: String,
                       now: Int64) throws(WebhookError) -> WebhookResult {
        let params = try verifiedParameters(request, token: token, publicUrl: publicUrl)
        let event: ProviderEvent
        switch callback {
        case .status: event = try statusEvent(params, now: now)
        case .recording: event = try recordingEvent(params, now: now)
        case .voice: event = try voiceEvent(params, now: now)
        }
        let reply: WebhookReply = callback == .voice ? TwilioVoice.placeholder : .noContent
        return WebhookResult(events: [event], reply: reply)
    }

    // MARK: Signature

    /// Verifies `X-Twilio-Signature` and returns the request's parameters
    /// (form pairs, or the JSON body's scalar members as strings).
    static func verifiedParameters(_ request: WebhookRequest, token: String,
                                   publicUrl: String) throws(WebhookError) -> [String: String] {
        let isJSON: Bool
        switch request.mediaType {
        case nil, "application/x-www-form-urlencoded"?: isJSON = false
        case "application/json"?: isJSON = true
        case let other?: throw .unsupportedMediaType("expected application/x-www-form-urlencoded, got \(other)")
        }
        guard let signature = request.headers["x-twilio-signature"], !signature.isEmpty else {
            throw .unauthorized("missing X-Twilio-Signature header")
        }
        let url = signedURL(publicUrl: publicUrl, path: request.path, rawQuery: request.rawQuery)
        let key = Array(token.utf8)
        let given = Array(signature.utf8)

        if isJSON {
            let query = Form.dictionary(Form.decode(query: request.rawQuery ?? ""))
            guard let bodyHash = query["bodySHA256"] else {
                throw .unauthorized("JSON body without bodySHA256 in the signed URL")
            }
            let actual = Array(Crypto.hex(Crypto.sha256(request.body)).utf8)
            let urlOK = urlVariants(url).contains { candidate in
                Crypto.constantTimeEquals(Array(Crypto.base64Encode(Crypto.hmacSHA1(key: key, message: Array(candidate.utf8))).utf8), given)
            }
            guard urlOK, Crypto.constantTimeEquals(actual, Array(bodyHash.lowercased().utf8)) else {
                throw .unauthorized("X-Twilio-Signature does not match")
            }
            let body = try JSONValue.parseWebhookBody(request.body)
            var params: [String: String] = [:]
            for (name, value) in body.objectValue ?? [:] {
                switch value {
                case .string(let s): params[name] = s
                case .int(let i): params[name] = String(i)
                case .double(let d): params[name] = d.description
                case .bool(let b): params[name] = b ? "true" : "false"
                default: continue
                }
            }
            return params
        }

        let pairs = Form.decode(request.body)
        let suffix = signedParameters(pairs.map { ($0.name, $0.value) })
        let ok = urlVariants(url).contains { candidate in
            let mac = Crypto.hmacSHA1(key: key, parts: [Array(candidate.utf8), suffix])
            return Crypto.constantTimeEquals(Array(Crypto.base64Encode(mac).utf8), given)
        }
        guard ok else { throw .unauthorized("X-Twilio-Signature does not match") }
        return Form.dictionary(pairs)
    }

    /// Computes the signature a Twilio request to `url` with `params` carries
    /// (for tests and `switchboard simulate`).
    public static func signature(authToken: String, url: String, params: [(String, String)]) -> String {
        let data = Array(url.utf8) + signedParameters(params)
        return Crypto.base64Encode(Crypto.hmacSHA1(key: Array(authToken.utf8), message: data))
    }

    /// The parameters as Twilio signs them after the URL: names sorted, then
    /// each name's distinct values sorted (as twilio-python does), every
    /// name+value concatenated.
    static func signedParameters(_ params: [(String, String)]) -> [UInt8] {
        var grouped: [String: Set<String>] = [:]
        for (name, value) in params { grouped[name, default: []].insert(value) }
        var bytes: [UInt8] = []
        for name in grouped.keys.sorted(by: { $0.precedesByUTF8($1) }) {
            for value in grouped[name]!.sorted(by: { $0.precedesByUTF8($1) }) {
                bytes.append(contentsOf: name.utf8)
                bytes.append(contentsOf: value.utf8)
            }
        }
        return bytes
    }

    /// `publicUrl` without a trailing `/`, the path, and the raw query when
    /// there is one (an empty query adds no `?`).
    static func signedURL(publicUrl: String, path: String, rawQuery: String?) -> String {
        var base = Substring(publicUrl)
        while base.hasSuffix("/") { base = base.dropLast() }
        var url = String(base) + path
        if let rawQuery, !rawQuery.isEmpty { url += "?" + rawQuery }
        return url
    }

    /// The URL as given plus the same URL with the default port added or
    /// removed (`:443` for https, `:80` for http).
    static func urlVariants(_ url: String) -> [String] {
        let scheme: String
        let defaultPort: String
        if url.hasPrefix("https://") { scheme = "https://"; defaultPort = "443" }
        else if url.hasPrefix("http://") { scheme = "http://"; defaultPort = "80" }
        else { return [url] }
        let rest = url.dropFirst(scheme.count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        let tail = rest[authorityEnd...]
        // The port is after the last ':' that follows any userinfo and IPv6 literal.
        let hostStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let host = authority[hostStart...]
        if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]") {
            let port = host[host.index(after: colon)...]
            guard port == defaultPort else { return [url] }
            return [url, scheme + String(authority[authority.startIndex..<colon]) + String(tail)]
        }
        return [url, scheme + String(authority) + ":" + defaultPort + String(tail)]
    }

    // MARK: Mapping

    /// Fields every Twilio callback carries about the call itself.
    private static func setCallFields(_ builder: inout UpdateBuilder, _ params: [String: String], callSid: String) {
        builder.set(.provider, string: "twilio")
        builder.set(.providerCallId, string: callSid)
        builder.set(.twilioCallSid, string: callSid)
        if let direction = params["Direction"].flatMap({ direction($0, from: params["From"]) }) {
            builder.set(.direction, string: direction)
        }
        builder.set(.from, string: params["From"])
        builder.set(.to, string: params["To"])
        // A call Twilio dials to a Voice SDK client (`<Dial><Client>alice`)
        // is addressed `To=client:alice`: that user is the callee whose
        // devices ring (PROTOCOL.md §10).
        if let to = params["To"], to.hasPrefix("client:"), to.count > "client:".count {
            builder.set(.calleeSub, string: String(to.dropFirst("client:".count)))
        }
    }

    /// `inbound` → inbound; `outbound-api`, `outbound-dial` → outbound;
    /// anything else says nothing (nil) rather than failing the callback.
    /// A call a Voice SDK client places (`From=client:<identity>`) reaches
    /// Twilio as `inbound` (the client's leg comes in to Twilio), but for the
    /// app it is the outbound call it dialled: outbound, so the voice URL's
    /// TwiML dials the session's number rather than the client itself.
    static func direction(_ value: String, from: String? = nil) -> String? {
        if value == "inbound" { return from?.hasPrefix("client:") == true ? "outbound" : "inbound" }
        if value.hasPrefix("outbound") { return "outbound" }
        return nil
    }

    private static func callState(_ params: [String: String]) throws(WebhookError) -> CallStateValue? {
        guard let status = params["CallStatus"], !status.isEmpty else { return nil }
        guard let state = callStatusMap[status] else {
            throw .unprocessable("unknown CallStatus \"\(status)\"")
        }
        return state
    }

    private static func timestamp(_ params: [String: String], _ name: String) throws(WebhookError) -> Int64? {
        guard let text = params[name], !text.isEmpty else { return nil }
        guard let ms = Timestamps.rfc2822(text) else { throw .unprocessable("\(name) is not an RFC 2822 date") }
        return ms
    }

    private static func requiredCallSid(_ params: [String: String]) throws(WebhookError) -> String {
        guard let sid = params["CallSid"], !sid.isEmpty else { throw .badRequest("CallSid is required") }
        return sid
    }

    /// Status callback: `CallStatus` (required), `Timestamp` as ts,
    /// `SequenceNumber` as seq, eventId `CallSid:SequenceNumber:CallStatus`.
    static func statusEvent(_ params: [String: String], now: Int64) throws(WebhookError) -> ProviderEvent {
        let callSid = try requiredCallSid(params)
        guard let status = params["CallStatus"], !status.isEmpty else { throw .badRequest("CallStatus is required") }
        let state = try callState(params)
        let seqText = params["SequenceNumber"] ?? ""
        var seq: Int64 = 0
        if !seqText.isEmpty {
            guard let n = Int64(seqText) else { throw .unprocessable("SequenceNumber is not an integer") }
            seq = n
        }
        let ts = try timestamp(params, "Timestamp") ?? now
        var builder = UpdateBuilder(ts: ts, source: "twilio", seq: seq, eventId: "\(callSid):\(seqText):\(status)")
        builder.set(.callState, state: state)
        setCallFields(&builder, params, callSid: callSid)
        // `duration` is derived by the document from answeredAt/endedAt;
        // Twilio's own billing figure is kept as metadata for comparison.
        if let duration = params["CallDuration"].flatMap({ Int64($0) }) {
            builder.set(.metadata("callDuration"), .int(duration))
        }
        return ProviderEvent(providerCallIds: [callSid], input: builder.input(kind: "twilio.status", receivedAt: now))
    }

    /// Recording callback: `RecordingStatus` in-progress → active, completed
    /// → inactive with `RecordingDuration`; absent/failed → inactive.
    /// ts is `RecordingStartTime`, plus the duration once completed (the
    /// moment recording stopped), else the receive time.
    static func recordingEvent(_ params: [String: String], now: Int64) throws(WebhookError) -> ProviderEvent {
        let callSid = try requiredCallSid(params)
        guard let status = params["RecordingStatus"], !status.isEmpty else {
            throw .badRequest("RecordingStatus is required")
        }
        let active: Bool
        switch status {
        case "in-progress": active = true
        case "completed", "absent", "failed", "stopped": active = false
        default: throw .unprocessable("unknown RecordingStatus \"\(status)\"")
        }
        var duration: Int64?
        if let text = params["RecordingDuration"], !text.isEmpty {
            guard let d = Int64(text), d >= 0 else { throw .unprocessable("RecordingDuration is not a number of seconds") }
            duration = d
        }
        var ts = now
        if let start = try timestamp(params, "RecordingStartTime") {
            ts = start + (status == "completed" ? (duration ?? 0) * 1000 : 0)
        }
        let recordingSid = params["RecordingSid"] ?? ""
        var builder = UpdateBuilder(ts: ts, source: "twilio",
                                    eventId: "\(callSid):\(recordingSid):\(status)")
        builder.set(.recordingActive, .bool(active))
        builder.set(.recordingId, string: recordingSid)
        // Twilio stores recordings as WAV and serves MP3 on request: the
        // callback URL has no extension unless someone configured one.
        let url = params["RecordingUrl"] ?? ""
        builder.set(.recordingFormat, string: url.lowercased().hasSuffix(".mp3") ? "mp3" : "wav")
        if status == "completed", let duration { builder.set(.recordingDuration, .int(duration)) }
        builder.set(.provider, string: "twilio")
        builder.set(.providerCallId, string: callSid)
        builder.set(.twilioCallSid, string: callSid)
        return ProviderEvent(providerCallIds: [callSid], input: builder.input(kind: "twilio.recording", receivedAt: now))
    }

    /// Voice URL: the call exists; `CallStatus` (usually ringing or
    /// in-progress) when present. No `Timestamp` is sent: ts is receive time.
    /// A `session` parameter names the session: the custom parameter of
    /// `device.connect({params: {session}})`, which Twilio posts to a TwiML
    /// app's fixed voice URL (covered by the signature like every parameter);
    /// `?session=` on the URL still wins.
    static func voiceEvent(_ params: [String: String], now: Int64) throws(WebhookError) -> ProviderEvent {
        let callSid = try requiredCallSid(params)
        var sessionId: String?
        if let session = params["session"], !session.isEmpty {
            guard SessionID.isValid(session) else { throw .badRequest("session is not a valid session id") }
            sessionId = session
        }
        let state = try callState(params)
        var builder = UpdateBuilder(ts: now, source: "twilio",
                                    eventId: "\(callSid):voice:\(params["CallStatus"] ?? "")")
        builder.set(.callState, state: state)
        setCallFields(&builder, params, callSid: callSid)
        return ProviderEvent(sessionId: sessionId, providerCallIds: [callSid],
                             input: builder.input(kind: "twilio.voice", receivedAt: now))
    }
}
