import Hub

/// One HTTP request in flight on the service thread: collecting its body,
/// then holding its response until libwebsockets says the socket is writable.
final class HTTPExchange {
    let id: Int
    let wsi: OpaquePointer
    var request: HTTPRequest
    var response: HTTPResponse?
    /// Set when the body passed `limits.maxBodyBytes`: the rest is discarded.
    var overflowed = false

    init(id: Int, wsi: OpaquePointer, request: HTTPRequest) {
        self.id = id
        self.wsi = wsi
        self.request = request
    }
}
