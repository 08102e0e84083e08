import CallState
import JSONCodec

/// Why a webhook was refused: an HTTP status and the §6 error code.
public struct WebhookError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status to answer with.
    public let status: Int
    /// The `error.code` of the JSON error body.
    public let code: String
    /// Human-readable; never contains secrets or signatures.
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 401: signature missing, wrong, or its timestamp outside the tolerance.
    public static func unauthorized(_ message: String) -> WebhookError {
        WebhookError(status: 401, code: "unauthorized", message: message)
    }

    /// 400: not JSON / not a form, or a required member missing or of the wrong type.
    public static func badRequest(_ message: String) -> WebhookError {
        WebhookError(status: 400, code: "bad_request", message: message)
    }

    /// 422: well-formed, but a value outside the vocabulary (e.g. an unknown `CallStatus`).
    public static func unprocessable(_ message: String) -> WebhookError {
        WebhookError(status: 422, code: "invalid_value", message: message)
    }

    /// 404: the provider has no secret configured, so the route does not exist.
    public static func notConfigured(_ message: String) -> WebhookError {
        WebhookError(status: 404, code: "not_found", message: message)
    }

    /// 415: a content type this route cannot read.
    public static func unsupportedMediaType(_ message: String) -> WebhookError {
        WebhookError(status: 415, code: "unsupported_media_type", message: message)
    }

    /// The §6 error response: `{"error":{"code":…,"message":…}}`.
    public var reply: WebhookReply {
        WebhookReply(status: status, contentType: "application/json", body: JSONCodec.encode(
            .object(["error": .object(["code": .string(code), "message": .string(message)])])))
    }

    public var description: String { "\(status) \(code): \(message)" }
}
