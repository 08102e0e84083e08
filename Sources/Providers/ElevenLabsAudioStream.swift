import CallState

/// An ElevenLabs webhook too large to buffer (`post_call_audio` carries the
/// whole call as base64): the signature is computed as the body streams in
/// and only the few scalars the mapping needs are kept, so the audio is
/// never held in memory.
///
/// The transport uses it for `POST /webhooks/elevenlabs` bodies over
/// `limits.maxBodyBytes`; smaller ones take the buffered path.
public final class ElevenLabsAudioStream {
    private let signature: SignatureHeader.Pending
    private var scanner = JSONScalarScanner(wanted: [
        ["type"], ["event_timestamp"], ["data", "conversation_id"], ["data", "agent_id"],
        ["data", "conversation_initiation_client_data", "dynamic_variables", "session_id"],
    ])

    /// Starts a streamed request: checks the provider is configured and the
    /// `ElevenLabs-Signature` header is present and fresh.
    public init(secrets: ProviderSecrets, headers: [String: String], now: Int64) throws(WebhookError) {
        guard let secret = secrets.elevenlabsSecret, !secret.isEmpty else {
            throw .notConfigured("elevenlabs webhooks are not configured")
        }
        try WebhookRequest(path: WebhookRoute.elevenlabs.path, headers: headers).requireJSONContentType()
        signature = try SignatureHeader.begin(headers["elevenlabs-signature"], name: "ElevenLabs-Signature",
                                              scheme: "v0", secret: secret, now: now,
                                              toleranceSeconds: ElevenLabs.toleranceSeconds)
    }

    /// Feeds the next chunk of the body.
    public func feed(_ chunk: UnsafeRawBufferPointer) {
        signature.mac.update(chunk)
        scanner.feed(chunk)
    }

    /// Verifies the signature over everything fed and maps the event.
    /// Only `post_call_audio` may be this large; any other type is refused
    /// with 413, as a buffered body over the limit would be.
    /// - Parameters:
    ///   - query: the request's query (`?session=`).
    public func finish(query: [String: String], now: Int64) throws(WebhookError) -> WebhookResult {
        try signature.finish()
        guard scanner.finish() else { throw .badRequest("body is not well-formed JSON") }
        guard scanner.captured[["type"]] == .string("post_call_audio") else {
            throw WebhookError(status: 413, code: "body_too_large", message: "only post_call_audio may exceed limits.maxBodyBytes")
        }
        var result = try ElevenLabs.map(Self.document(scanner.captured), now: now)
        if let session = query["session"] {
            guard SessionID.isValid(session) else { throw .badRequest("session is not a valid session id") }
            for index in result.events.indices { result.events[index].sessionId = session }
        }
        return result
    }

    /// Rebuilds the nested object the mapping reads from the captured paths.
    static func document(_ captured: [[String]: JSONValue]) -> JSONValue {
        var root = JSONValue.object([:])
        for (path, value) in captured { root = set(root, path[...], value) }
        return root
    }

    private static func set(_ node: JSONValue, _ path: ArraySlice<String>, _ value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var members = node.objectValue ?? [:]
        members[key] = set(members[key] ?? .object([:]), path.dropFirst(), value)
        return .object(members)
    }
}
