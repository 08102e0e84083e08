/// The HTTP answer a provider expects on success.
public struct WebhookReply: Sendable, Equatable {
    public var status: Int
    /// nil for an empty body (204).
    public var contentType: String?
    public var body: [UInt8]

    public init(status: Int, contentType: String?, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// 204, empty: what Twilio's status and recording callbacks want.
    public static let noContent = WebhookReply(status: 204, contentType: nil, body: [])

    /// 200 `{"ok":true}`: JSON providers only look at the status.
    public static let ok = WebhookReply(status: 200, contentType: "application/json", body: Array(#"{"ok":true}"#.utf8))
}
