import HTTP1
import Hub
import Providers

/// One HTTP request in flight on the service thread: collecting its body,
/// then holding its answer until every answer before it on the connection
/// has been written.
final class HTTPExchange {
    /// The id the hub answers a deferred request by (`Hub.deliverResponse`).
    let id: Int
    unowned let connection: HTTPConnection
    var request: HTTPRequest
    /// Whether the client keeps the connection after this answer.
    let keepAlive: Bool
    var response: HTTPResponse?
    /// Handed to the router (or answered without it).
    var dispatched = false
    /// The connection closes after this answer (the request could not be read whole).
    var closeAfter = false
    /// An ElevenLabs body too large to buffer, verified and scanned as it streams.
    var audio: ElevenLabsAudioStream?
    /// Why a streamed body will be refused, once it has been read.
    var streamError: WebhookError?
    var streamedBytes = 0

    init(id: Int, connection: HTTPConnection, request: HTTPRequest, keepAlive: Bool) {
        self.id = id
        self.connection = connection
        self.request = request
        self.keepAlive = keepAlive
    }
}
