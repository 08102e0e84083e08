/// Opens WebSocket connections for `SwitchboardCall`.
///
/// The call needs very little from a WebSocket: open it with request
/// headers, send text, receive text or the close code, close it. Anything
/// that can do that (Foundation's `URLSessionWebSocketTask`, libwebsockets,
/// a fake in tests) can carry a call. `DefaultWebSocketTransport` is the
/// platform's choice.
public protocol WebSocketTransport: Sendable {
    /// Opens a connection and returns once the server answered 101.
    ///
    /// - Parameters:
    ///   - url: `ws://` or `wss://` URL, query included.
    ///   - headers: extra request headers (e.g. `Authorization`).
    /// - Throws: `WebSocketTransportError`; its `httpStatus` is set when the
    ///   server refused the upgrade with an HTTP status (401, 403, 429, 503, …).
    func connect(url: String, headers: [String: String]) async throws -> any WebSocketConnection
}

/// One open WebSocket. Used by one consumer: `receive()` is never called
/// concurrently with itself.
public protocol WebSocketConnection: Sendable {
    /// Queues one text message. Throws when the connection is closed.
    func send(_ text: String) async throws
    /// The next message; `.closed` once the connection has ended (and from
    /// then on). Throws only on transport failures that carry no close code.
    func receive() async throws -> WebSocketMessage
    /// Starts the closing handshake with `code` (1000 normal, 4000-4999
    /// private use). Returns at once; `receive()` then reports `.closed`.
    func close(code: Int, reason: String)
}

/// What `WebSocketConnection.receive()` yields.
public enum WebSocketMessage: Sendable, Equatable {
    /// A complete text message (fragments already reassembled).
    case text(String)
    /// The connection ended: the peer's close code (1006 when the TCP
    /// connection ended without a close frame) and reason.
    case closed(code: Int, reason: String)
}

/// A connection attempt that failed, or an operation on a dead connection.
public struct WebSocketTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status of a refused upgrade (401, 403, 404, 429, 503, …), else nil.
    public var httpStatus: Int?
    /// What went wrong, for logs.
    public var message: String

    /// - Parameters:
    ///   - httpStatus: the status of a refused upgrade, if there was one.
    ///   - message: a description for logs.
    public init(httpStatus: Int? = nil, message: String) {
        self.httpStatus = httpStatus
        self.message = message
    }

    public var description: String {
        httpStatus.map { "WebSocket upgrade refused (\($0)): \(message)" } ?? "WebSocket: \(message)"
    }
}

#if canImport(Darwin)
/// The platform's transport: `URLSessionWebSocketTransport` on Apple platforms.
public typealias DefaultWebSocketTransport = URLSessionWebSocketTransport
#else
/// The platform's transport: `LWSWebSocketTransport` (libwebsockets) on Linux,
/// where FoundationNetworking has no WebSocket support.
public typealias DefaultWebSocketTransport = LWSWebSocketTransport
#endif
