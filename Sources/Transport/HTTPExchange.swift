import Hub

/// One HTTP request in flight on the service thread: collecting its body,
/// then holding its response until libwebsockets says the socket is writable.
final class HTTPExchange {
    var request: HTTPRequest
    var response: HTTPResponse?
    /// Set when the body passed `limits.maxBodyBytes`: the rest is discarded.
    var overflowed = false

    init(request: HTTPRequest) { self.request = request }
}
