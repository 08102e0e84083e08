#if canImport(CLibWebSockets) && !canImport(Darwin)
import CLibWebSockets

/// WebSockets over the libwebsockets client API: the Linux transport
/// (FoundationNetworking answers "WebSockets not supported by libcurl").
///
/// Each connection gets its own lws context and a service thread that lives
/// exactly as long as the connection (see `LWSConnection`). `ws://` and
/// `wss://` (system CA store) are both accepted.
public struct LWSWebSocketTransport: WebSocketTransport {
    /// Seconds allowed for TCP connect plus the upgrade.
    public var connectTimeoutSeconds: Int
    /// Messages from the server above this size close the connection with 1009.
    public var maxMessageBytes: Int

    /// - Parameters:
    ///   - connectTimeoutSeconds: TCP connect plus upgrade budget.
    ///   - maxMessageBytes: largest server message accepted (default 16 MiB).
    public init(connectTimeoutSeconds: Int = 10, maxMessageBytes: Int = 16 << 20) {
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.maxMessageBytes = maxMessageBytes
    }

    public func connect(url: String, headers: [String: String]) async throws -> any WebSocketConnection {
        guard let parsed = WebSocketURL(url) else {
            throw WebSocketTransportError(message: "not a ws:// or wss:// URL: \(url)")
        }
        let connection = LWSConnection(url: parsed, headers: headers, connectTimeoutSeconds: connectTimeoutSeconds,
                                       maxMessageBytes: maxMessageBytes)
        try await connection.open()
        return connection
    }
}
#endif
