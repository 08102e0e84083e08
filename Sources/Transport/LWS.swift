import CLibWebSockets

/// Small, safe readers over libwebsockets' header and argument API. Every
/// pointer lives only inside these calls.
enum LWS {
    static let pre = Int(CLibWebSockets_PRE)

    /// A parsed header, or nil when absent.
    static func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let n = Int(lws_hdr_total_length(wsi, token))
        guard n > 0 else { return nil }
        return copied(capacity: n + 1) { lws_hdr_copy(wsi, $0, $1, token) }
    }

    /// A header libwebsockets has no token for; `name` is lower-case with
    /// its ':' (how libwebsockets stores it), as bytes with a NUL.
    static func customHeader(_ wsi: OpaquePointer, _ name: [CChar]) -> String? {
        let nlen = Int32(name.count - 1)
        let n = Int(lws_hdr_custom_length(wsi, name, nlen))
        guard n > 0 else { return nil }
        return copied(capacity: n + 1) { lws_hdr_custom_copy(wsi, $0, $1, name, nlen) }
    }

    /// Text that `copy` writes into a stack buffer of `capacity` bytes, up to
    /// its first NUL and at most the count `copy` returns; nil when `copy`
    /// fails (returns < 0).
    private static func copied(capacity: Int,
                               _ copy: (UnsafeMutablePointer<CChar>, Int32) -> Int32) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer in
            let written = copy(buffer.baseAddress!, Int32(capacity))
            guard written >= 0 else { return nil }
            let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: min(Int(written), capacity))
            return String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// URL arguments, each already %-decoded by libwebsockets.
    static func queryArguments(_ wsi: OpaquePointer) -> [(String, String)] {
        // Most requests (every webhook) have none: skip the 2 KB buffer.
        guard lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0 else { return [] }
        var out: [(String, String)] = []
        var index: Int32 = 0
        while let text = copied(capacity: 2048, { lws_hdr_copy_fragment(wsi, $0, $1, WSI_TOKEN_HTTP_URI_ARGS, index) }),
              !text.isEmpty {
            if let eq = text.firstIndex(of: "=") {
                out.append((String(text[..<eq]), String(text[text.index(after: eq)...])))
            } else {
                out.append((text, ""))
            }
            index += 1
        }
        return out
    }

    /// The request method, from whichever URI token libwebsockets filled in.
    static func method(_ wsi: OpaquePointer) -> String {
        let methods: [(lws_token_indexes, String)] = [
            (WSI_TOKEN_GET_URI, "GET"), (WSI_TOKEN_POST_URI, "POST"), (WSI_TOKEN_OPTIONS_URI, "OPTIONS"),
            (WSI_TOKEN_PUT_URI, "PUT"), (WSI_TOKEN_PATCH_URI, "PATCH"), (WSI_TOKEN_DELETE_URI, "DELETE"),
            (WSI_TOKEN_HEAD_URI, "HEAD"),
        ]
        for (token, name) in methods where lws_hdr_total_length(wsi, token) > 0 { return name }
        return "UNKNOWN"
    }

    /// The peer's numeric address.
    static func peer(_ wsi: OpaquePointer) -> String {
        copied(capacity: 64) { buffer, size in lws_get_peer_simple(wsi, buffer, Int(size)) == nil ? -1 : size } ?? ""
    }

    /// Headers with a libwebsockets token that some route reads.
    private static let tokenHeaders: [(lws_token_indexes, String)] = [
        (WSI_TOKEN_HTTP_CONTENT_TYPE, "content-type"), (WSI_TOKEN_HTTP_AUTHORIZATION, "authorization"),
        (WSI_TOKEN_ORIGIN, "origin"), (WSI_TOKEN_HOST, "host"), (WSI_TOKEN_HTTP_IF_NONE_MATCH, "if-none-match"),
        (WSI_TOKEN_X_FORWARDED_FOR, "x-forwarded-for"), (WSI_TOKEN_HTTP_CONTENT_LENGTH, "content-length"),
    ]

    /// Headers without a token that some route reads, with the `name:` key
    /// libwebsockets looks them up by (built once, not per request).
    private static let customHeaders: [(name: String, key: [CChar])] =
        ["forwarded", "x-twilio-signature", "elevenlabs-signature", "agora-signature-v2",
         "agora-signature", "telnyx-signature-ed25519", "telnyx-timestamp", "x-switchboard-signature"]
        .map { ($0, Array(($0 + ":").utf8CString)) }

    /// Headers handed to the hub: the ones any route reads, lower-cased.
    static func requestHeaders(_ wsi: OpaquePointer) -> [String: String] {
        // One allocation, no regrowth; `minimumCapacity:` rather than
        // `reserveCapacity`, which looks up generic metadata on every call.
        var out = [String: String](minimumCapacity: tokenHeaders.count + customHeaders.count)
        for (token, name) in tokenHeaders { if let v = header(wsi, token) { out[name] = v } }
        for (name, key) in customHeaders { if let v = customHeader(wsi, key) { out[name] = v } }
        return out
    }

    /// Writes a complete HTTP response, headers and body in one `send()`.
    ///
    /// One write, not `lws_finalize_write_http_header` and then the body: on
    /// HTTP/1.1 both are raw bytes on the socket, and the second `send()`
    /// was one of the three a webhook costs (BENCHMARKS.md). libwebsockets
    /// keeps and finishes a short write either way.
    /// - Returns: false if the connection must be closed.
    static func writeResponse(_ wsi: OpaquePointer, _ response: HTTPResponseBytes) -> Bool {
        let sendsBody = response.status != 204 && response.status != 304
        let body = sendsBody ? response.body : []
        // Status line, content length and the names and separators of the
        // common headers fit in 512 bytes; add the content type and each
        // extra header's name, value and ": \r\n". Sized to the answer, a
        // typical one fits a stack buffer (no heap, no zeroing).
        let headerSpace = response.headers.reduce(512 + response.contentType.utf8.count) {
            $0 + $1.0.utf8.count + $1.1.utf8.count + 4
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: pre + headerSpace + body.count) { b in
            guard let base = b.baseAddress else { return false }
            let start = base + pre
            var p: UnsafeMutablePointer<UInt8>? = start
            let end = start + headerSpace - 1
            if lws_add_http_common_headers(wsi, UInt32(response.status), response.contentType,
                                           lws_filepos_t(body.count), &p, end) != 0 {
                return false
            }
            for (name, value) in response.headers {
                let key = name.lowercased() + ":"
                let added = key.withCString { k in
                    value.withCString { v in
                        lws_add_http_header_by_name(wsi, UnsafeRawPointer(k).assumingMemoryBound(to: UInt8.self),
                                                    UnsafeRawPointer(v).assumingMemoryBound(to: UInt8.self),
                                                    Int32(value.utf8.count), &p, end)
                    }
                }
                if added != 0 { return false }
            }
            guard lws_finalize_http_header(wsi, &p, end) == 0, var tail = p else { return false }
            body.withUnsafeBytes { bytes in
                guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
                tail.update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
                tail += bytes.count
            }
            return lws_write(wsi, start, tail - start, LWS_WRITE_HTTP_FINAL) >= 0
        }
    }
}

/// What `LWS.writeResponse` needs; keeps the Hub's `HTTPResponse` out of C calls.
struct HTTPResponseBytes {
    var status: Int
    var contentType: String
    var headers: [(String, String)]
    var body: [UInt8]
}
