import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Outbound HTTP for webhook deliveries: libcurl's multi interface on its
/// own thread, so a slow or dead receiver never blocks the reactor.
///
/// The reactor `send`s requests (a lock and a `curl_multi_wakeup`, no I/O);
/// the client thread runs every transfer concurrently, and hands each result
/// back through `takeResponses()` after calling `wake` (the journal's
/// `lws_cancel_service` wake-up, the same path commits take). TLS peers and
/// host names are verified; `caFile` adds private CAs.
///
/// The thread lives as long as the process: every delivery's state is in
/// the outbox, so a transfer cut by exit is simply attempted again.
final class WebhookClient: @unchecked Sendable {  // shared state only under `state`'s mutex
    /// One POST.
    struct Request: Sendable {
        /// Handed back with the response.
        var token: Int64
        var url: String
        var headers: [String]
        var body: [UInt8]
        var timeoutMs: Int
        /// Overrides the client's `caFile` (push providers each have their own).
        var caFile: String? = nil
        /// HTTP/2 (APNs requires it): negotiated by ALPN over TLS, prior
        /// knowledge (h2c) over `http://`.
        var http2 = false
        /// Keep up to this many bytes of the response body (0: discard it).
        var keepBodyBytes = 0
    }

    /// What came back: an HTTP status, or a transport error (status 0).
    struct Response: Sendable {
        var token: Int64
        var status: Int
        var error: String?
        /// The body when the request asked for it (`keepBodyBytes`).
        var body: [UInt8] = []
    }

    private struct Shared {
        var incoming: [Request] = []
        var responses: [Response] = []
        var wake: @Sendable () -> Void = {}
    }

    private let state = Mutex(Shared())
    private let multi: UnsafeMutableRawPointer
    private let caFile: String?

    /// Starts the client thread.
    init(caFile: String?) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        multi = curl_multi_init()!
        self.caFile = caFile
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<WebhookClient>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(thread)
    }

    /// Sets how the reactor is woken when responses are ready.
    func setWake(_ wake: @escaping @Sendable () -> Void) {
        state.withLock { $0.wake = wake }
    }

    /// Queues a request; returns at once.
    func send(_ request: Request) {
        state.withLock { $0.incoming.append(request) }
        curl_multi_wakeup(multi)
    }

    /// Responses since the last call (reactor thread).
    func takeResponses() -> [Response] {
        state.withLock { shared in
            defer { shared.responses.removeAll(keepingCapacity: true) }
            return shared.responses
        }
    }

    // MARK: Client thread

    /// Per transfer: the easy handle's header list, kept until it finishes.
    private var transfers: [Int64: (easy: UnsafeMutableRawPointer, headers: UnsafeMutablePointer<curl_slist>?,
                                    body: UnsafeMutablePointer<CCurl_buffer>?)] = [:]

    private func run() {
        while true {
            let requests: [Request] = state.withLock { shared in
                defer { shared.incoming.removeAll(keepingCapacity: true) }
                return shared.incoming
            }
            for request in requests { start(request) }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var finished: [Response] = []
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let token = Int64(Int(bitPattern: CCurl_private(easy)))
                let code = CCurl_message_result(message)
                if code == CURLE_OK {
                    var body: [UInt8] = []
                    if let buffer = transfers[token]?.body, let data = buffer.pointee.data {
                        body = Array(UnsafeRawBufferPointer(start: data, count: buffer.pointee.length))
                    }
                    finished.append(Response(token: token, status: CCurl_response_code(easy), error: nil, body: body))
                } else {
                    finished.append(Response(token: token, status: 0, error: String(cString: curl_easy_strerror(code))))
                }
                finish(token)
            }
            if !finished.isEmpty {
                let wake = state.withLock { shared -> @Sendable () -> Void in
                    shared.responses.append(contentsOf: finished)
                    return shared.wake
                }
                wake()
            }
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
    }

    private func start(_ request: Request) {
        guard let easy = curl_easy_init() else {
            deliverFailure(request.token, "curl_easy_init failed")
            return
        }
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, header) }
        CCurl_setopt_string(easy, CURLOPT_URL, request.url)
        CCurl_setopt_long(easy, CURLOPT_POST, 1)
        CCurl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count)
        request.body.withUnsafeBufferPointer { buffer in
            // COPYPOSTFIELDS copies POSTFIELDSIZE bytes: the array may go after this.
            _ = CCurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS,
                                     UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
        }
        CCurl_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers))
        CCurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, request.timeoutMs)
        CCurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        CCurl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        CCurl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        CCurl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        CCurl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        if let caFile = request.caFile ?? caFile { CCurl_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        CCurl_setopt_string(easy, CURLOPT_USERAGENT, "Switchboard-Webhooks/1")
        if request.http2 {
            CCurl_setopt_long(easy, CURLOPT_HTTP_VERSION, request.url.hasPrefix("https://")
                              ? CCurl_http_version_2tls() : CCurl_http_version_2_prior_knowledge())
        }
        var body: UnsafeMutablePointer<CCurl_buffer>?
        if request.keepBodyBytes > 0 {
            body = UnsafeMutablePointer<CCurl_buffer>.allocate(capacity: 1)
            body!.initialize(to: CCurl_buffer(data: nil, length: 0, capacity: 0, limit: request.keepBodyBytes))
            CCurl_collect_body(easy, body)
        } else {
            CCurl_discard_body(easy)
        }
        CCurl_setopt_pointer(easy, CURLOPT_PRIVATE, UnsafeMutableRawPointer(bitPattern: Int(request.token)))
        transfers[request.token] = (easy, headers, body)
        curl_multi_add_handle(multi, easy)
    }

    private func finish(_ token: Int64) {
        guard let transfer = transfers.removeValue(forKey: token) else { return }
        curl_multi_remove_handle(multi, transfer.easy)
        curl_easy_cleanup(transfer.easy)
        curl_slist_free_all(transfer.headers)
        if let body = transfer.body {
            free(body.pointee.data)
            body.deallocate()
        }
    }

    private func deliverFailure(_ token: Int64, _ message: String) {
        let wake = state.withLock { shared -> @Sendable () -> Void in
            shared.responses.append(Response(token: token, status: 0, error: message))
            return shared.wake
        }
        wake()
    }
}
