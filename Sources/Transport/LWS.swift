import CLibWebSockets

/// libwebsockets constants the transport needs. The hub reads HTTP itself
/// (`HTTPConnection`); libwebsockets sees only admitted WebSocket handshakes.
enum LWS {
    /// Bytes libwebsockets needs before every payload handed to `lws_write()`.
    static let pre = Int(CLibWebSockets_PRE)
}
