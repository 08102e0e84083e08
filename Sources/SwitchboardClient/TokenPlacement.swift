/// How the token travels on the upgrade request (PROTOCOL.md §5).
public enum TokenPlacement: Sendable, Equatable {
    /// `Authorization: Bearer <token>`: kept out of URLs and proxy logs. The default.
    case authorizationHeader
    /// `?token=<token>`: for stacks that cannot set headers on a WebSocket.
    case queryParameter
}
