import Hub
import Providers

/// One HTTP request in flight on the service thread: collecting its body,
/// then holding its response until libwebsockets says the socket is writable.
final class HTTPExchange {
    let id: Int
    let wsi: OpaquePointer
    var request: HTTPRequest
    var response: HTTPResponse?
    /// Set when the body passed its limit: the rest is discarded.
    var overflowed = false
    /// An ElevenLabs body too large to buffer, verified and scanned as it streams.
    var audio: ElevenLabsAudioStream?
    /// Why a streamed body will be refused, once it has been read.
    var streamError: WebhookError?
    var streamedBytes = 0

    init(id: Int, wsi: OpaquePointer, request: HTTPRequest) {
        self.id = id
        self.wsi = wsi
        self.request = request
    }
}
