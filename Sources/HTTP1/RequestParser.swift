/// An incremental, strict HTTP/1.1 request reader (RFC 9112).
///
/// The connection keeps the bytes; the parser reads them, reports what it
/// found and how many bytes that took, and keeps only its position in the
/// grammar. Pipelined requests are read one after another from the same
/// buffer. Anything ambiguous is refused rather than guessed: a request
/// that two parsers could frame differently is how request smuggling
/// starts, so `Content-Length` beside `Transfer-Encoding`, repeated or
/// malformed lengths, unknown codings, folded lines, whitespace before a
/// colon and control bytes are all errors.
public struct RequestParser: Sendable {
    /// What the parser found in the bytes it was given.
    public enum Event: Sendable {
        /// The bytes end inside a head, a chunk line or a body: read more.
        case needMore
        case head(RequestHead)
        /// Body bytes at this range of the buffer passed to `next`.
        case body(Range<Int>)
        /// The request, body included, is complete.
        case end
        case failed(HTTPParseError)
    }

    public struct Limits: Sendable {
        /// Largest head (request line and fields) in bytes; more is 431.
        public var maxHeadBytes: Int
        /// Most fields in one head; more is 431.
        public var maxFields: Int

        public init(maxHeadBytes: Int = 8192, maxFields: Int = 100) {
            self.maxHeadBytes = maxHeadBytes
            self.maxFields = maxFields
        }
    }

    enum State: Sendable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
        /// The body is read: `.end` comes next.
        case complete
        case failed
    }

    public let limits: Limits
    var state: State = .head
    /// How far the current head has been searched for its end, so a head
    /// arriving a byte at a time is scanned once, not once per byte.
    var scanned = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether the parser sits between requests (nothing of the next one read).
    public var isIdle: Bool {
        if case .head = state { return scanned == 0 }
        return false
    }

    /// Whether `next` has an event to report without further bytes (`.end`).
    public var hasEventPending: Bool {
        if case .complete = state { return true }
        return false
    }

    /// Whether a body is being read.
    public var inBody: Bool {
        switch state {
        case .head, .failed, .complete: return false
        default: return true
        }
    }

    /// Reads the next element of the request stream from `bytes` (the
    /// unread bytes, oldest first). The caller drops `consumed` bytes from
    /// the front before calling again; on `.needMore` it appends what the
    /// socket brings and calls again with the same unread bytes plus the new.
    public mutating func next(_ bytes: UnsafeRawBufferPointer) -> (event: Event, consumed: Int) {
        switch state {
        case .failed:
            return (.needMore, 0)
        case .head:
            return readHead(bytes)
        case .fixed(let remaining):
            guard !bytes.isEmpty else { return (.needMore, 0) }
            let n = min(remaining, bytes.count)
            state = n == remaining ? .complete : .fixed(remaining: remaining - n)
            return (.body(0..<n), n)
        case .complete:
            state = .head
            return (.end, 0)
        case .chunkSize:
            return readChunkSize(bytes)
        case .chunkData(let remaining):
            guard !bytes.isEmpty else { return (.needMore, 0) }
            let n = min(remaining, bytes.count)
            state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            return (.body(0..<n), n)
        case .chunkDataEnd:
            guard let line = lineEnd(bytes, from: 0, limit: 2) else {
                return bytes.count >= 2 ? fail(400, "bad_chunk", "chunk data not followed by CRLF") : (.needMore, 0)
            }
            guard line.contentEnd == 0 else { return fail(400, "bad_chunk", "chunk data not followed by CRLF") }
            state = .chunkSize
            return after(line.next, next(UnsafeRawBufferPointer(rebasing: bytes[line.next...])))
        case .trailers(let used):
            return readTrailers(bytes, used: used)
        }
    }

    private mutating func fail(_ status: Int, _ code: String, _ message: String) -> (event: Event, consumed: Int) {
        state = .failed
        return (.failed(HTTPParseError(status, code, message)), 0)
    }

    // MARK: - Head

    private mutating func readHead(_ bytes: UnsafeRawBufferPointer) -> (event: Event, consumed: Int) {
        // RFC 9112 §2.2: empty lines (CRLF or LF) before a request line are ignored.
        var start = 0
        while start < bytes.count {
            if bytes[start] == 0x0A {
                start += 1
            } else if bytes[start] == 0x0D, start + 1 < bytes.count, bytes[start + 1] == 0x0A {
                start += 2
            } else {
                break
            }
        }
        if start > 0 {
            scanned = 0
            return after(start, readHead(UnsafeRawBufferPointer(rebasing: bytes[start...])))
        }
        let end = headEnd(bytes)
        // Bytes that no request line can start with (a TLS hello, a binary
        // protocol, garbage) are refused as soon as they arrive, not after
        // limits.headerTimeoutMs: the verdict is the one the whole head would
        // get, so it does not depend on how the bytes are split.
        if Self.requestLineIsMalformed(UnsafeRawBufferPointer(rebasing: bytes[..<min(end ?? bytes.count, limits.maxHeadBytes)])) {
            return fail(400, "bad_request", "malformed request line")
        }
        guard let end else {
            if bytes.count > limits.maxHeadBytes {
                return fail(431, "header_too_large", "request head over \(limits.maxHeadBytes) bytes")
            }
            scanned = max(0, bytes.count - 3)
            return (.needMore, 0)
        }
        scanned = 0
        guard end <= limits.maxHeadBytes else {
            return fail(431, "header_too_large", "request head over \(limits.maxHeadBytes) bytes")
        }
        switch parseHead(UnsafeRawBufferPointer(rebasing: bytes[..<end])) {
        case .failure(let error):
            state = .failed
            return (.failed(error), 0)
        case .success(let head):
            switch head.framing {
            case .none, .length(0): state = .head
            case .length(let n): state = .fixed(remaining: n)
            case .chunked: state = .chunkSize
            }
            return (.head(head), end)
        }
    }

    /// The offset just past the empty line that ends the head, or nil.
    private func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = scanned
        let n = bytes.count
        while i < n {
            if bytes[i] == 0x0A {
                if i + 1 < n, bytes[i + 1] == 0x0A { return i + 2 }
                if i + 2 < n, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    /// One line: where its content ends (before CRLF or LF) and where the next begins.
    private func lineEnd(_ bytes: UnsafeRawBufferPointer, from: Int, limit: Int) -> (contentEnd: Int, next: Int)? {
        var i = from
        let stop = min(bytes.count, from + limit)
        while i < stop {
            if bytes[i] == 0x0A {
                let contentEnd = i > from && bytes[i - 1] == 0x0D ? i - 1 : i
                return (contentEnd, i + 1)
            }
            i += 1
        }
        return nil
    }

    private func parseHead(_ head: UnsafeRawBufferPointer) -> Result<RequestHead, HTTPParseError> {
        var lines: [Range<Int>] = []
        var at = 0
        while let line = lineEnd(head, from: at, limit: head.count - at) {
            lines.append(at..<line.contentEnd)
            at = line.next
        }
        // The last line is the empty one that ended the head.
        guard let requestLine = lines.first, lines.count >= 2 else {
            return .failure(HTTPParseError(400, "bad_request", "no request line"))
        }
        // The request line first: its verdict is the one `requestLineIsMalformed`
        // gives early, before the rest of the head has arrived.
        let parsedLine: (method: String, target: String, version: RequestHead.Version)
        switch parseRequestLine(UnsafeRawBufferPointer(rebasing: head[requestLine])) {
        case .failure(let e): return .failure(e)
        case .success(let l): parsedLine = l
        }
        if lines.count - 2 > limits.maxFields {
            return .failure(HTTPParseError(431, "header_too_large", "more than \(limits.maxFields) header fields"))
        }
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(lines.count - 2)
        for range in lines[1..<(lines.count - 1)] {
            switch parseField(UnsafeRawBufferPointer(rebasing: head[range])) {
            case .failure(let e): return .failure(e)
            case .success(let f): fields.append(f)
            }
        }
        return makeHead(parsedLine, fields: fields)
    }

    private func parseRequestLine(_ line: UnsafeRawBufferPointer)
        -> Result<(method: String, target: String, version: RequestHead.Version), HTTPParseError> {
        let bad = HTTPParseError(400, "bad_request", "malformed request line")
        guard let sp1 = line.firstIndex(of: 0x20) else { return .failure(bad) }
        let rest = line[(sp1 + 1)...]
        guard let sp2 = rest.firstIndex(of: 0x20) else { return .failure(bad) }
        let method = line[..<sp1]
        let target = line[(sp1 + 1)..<sp2]
        let version = line[(sp2 + 1)...]
        guard !method.isEmpty, method.allSatisfy(Self.isTchar) else { return .failure(bad) }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(HTTPParseError(400, "bad_request", "request target holds a byte outside visible ASCII"))
        }
        let parsedVersion: RequestHead.Version
        if version.elementsEqual("HTTP/1.1".utf8) {
            parsedVersion = .http11
        } else if version.elementsEqual("HTTP/1.0".utf8) {
            parsedVersion = .http10
        } else if version.count == 8, version.starts(with: "HTTP/".utf8) {
            return .failure(HTTPParseError(505, "http_version_not_supported", "only HTTP/1.1 and HTTP/1.0 are served"))
        } else {
            return .failure(bad)
        }
        return .success((String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), parsedVersion))
    }

    /// Whether `prefix`, the start of a head (after any empty lines), already
    /// holds a request line that `parseRequestLine` must refuse with 400,
    /// whatever follows: a method byte that is not a token character, a
    /// target byte outside visible ASCII, or a version part longer than
    /// `HTTP/1.1` and its CR. A CR as the very last byte at the start is not
    /// decided yet: with an LF after it, it is an empty line.
    static func requestLineIsMalformed(_ prefix: UnsafeRawBufferPointer) -> Bool {
        var part = 0          // 0 method, 1 target, 2 version
        var partLength = 0
        for (i, b) in prefix.enumerated() {
            if b == 0x0A { return false }  // the line is whole: parseHead decides
            if b == 0x20 {
                if partLength == 0 || part == 2 { return part < 2 || partLength > 9 }
                part += 1
                partLength = 0
                continue
            }
            partLength += 1
            switch part {
            case 0:
                if !isTchar(b) { return !(i == 0 && b == 0x0D && prefix.count == 1) }
            case 1:
                if b < 0x21 || b > 0x7E { return true }
            default:
                if partLength > 9 { return true }
            }
        }
        return false
    }

    private func parseField(_ line: UnsafeRawBufferPointer) -> Result<(name: String, value: String), HTTPParseError> {
        guard let first = line.first else { return .failure(HTTPParseError(400, "bad_request", "empty field line")) }
        if first == 0x20 || first == 0x09 {
            return .failure(HTTPParseError(400, "bad_request", "folded header lines are not accepted"))
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              line[..<colon].allSatisfy(Self.isTchar) else {
            return .failure(HTTPParseError(400, "bad_request", "malformed header field name"))
        }
        var lo = colon + 1
        var hi = line.count
        while lo < hi, line[lo] == 0x20 || line[lo] == 0x09 { lo += 1 }
        while hi > lo, line[hi - 1] == 0x20 || line[hi - 1] == 0x09 { hi -= 1 }
        let value = line[lo..<hi]
        guard value.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else {
            return .failure(HTTPParseError(400, "bad_request", "control byte in a header field value"))
        }
        var name = [UInt8](line[..<colon])
        for i in name.indices where name[i] >= UInt8(ascii: "A") && name[i] <= UInt8(ascii: "Z") { name[i] |= 0x20 }
        return .success((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    private func makeHead(_ line: (method: String, target: String, version: RequestHead.Version),
                          fields: [(name: String, value: String)]) -> Result<RequestHead, HTTPParseError> {
        // Target → path and query (origin-form, absolute-form, or `*` for OPTIONS).
        var pathAndQuery = Substring(line.target)
        if pathAndQuery == "*" {
            guard line.method == "OPTIONS" else { return .failure(HTTPParseError(400, "bad_request", "'*' is only for OPTIONS")) }
        } else if !pathAndQuery.hasPrefix("/") {
            let lower = pathAndQuery.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                return .failure(HTTPParseError(400, "bad_request", "request target must start with '/'"))
            }
            let afterScheme = pathAndQuery[pathAndQuery.index(pathAndQuery.firstIndex(of: ":")!, offsetBy: 3)...]
            pathAndQuery = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }).map { afterScheme[$0...] } ?? "/"
            if pathAndQuery.hasPrefix("?") { pathAndQuery = "/" + pathAndQuery }
        }
        if pathAndQuery.contains("#") {
            return .failure(HTTPParseError(400, "bad_request", "request target carries a fragment"))
        }
        let rawPath: Substring
        var rawQuery: String?
        if let q = pathAndQuery.firstIndex(of: "?") {
            rawPath = pathAndQuery[..<q]
            rawQuery = String(pathAndQuery[pathAndQuery.index(after: q)...])
        } else {
            rawPath = pathAndQuery
        }
        guard let decoded = PercentDecoding.decode(rawPath.utf8) else {
            return .failure(HTTPParseError(400, "bad_request", "malformed percent-encoding in the path"))
        }
        guard decoded.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }), let path = String(validating: decoded, as: UTF8.self) else {
            return .failure(HTTPParseError(400, "invalid_path", "the decoded path holds a control byte or invalid UTF-8"))
        }

        // Framing (RFC 9112 §6.1-6.3).
        var hosts = 0
        var lengths: [String] = []
        var codings: [Substring] = []
        var connectionTokens: [Substring] = []
        var upgradeWebSocket = false
        var expectsContinue = false
        for (name, value) in fields {
            switch name {
            case "host": hosts += 1
            case "content-length": lengths.append(value)
            case "transfer-encoding": codings += Self.tokens(value)
            case "connection": connectionTokens += Self.tokens(value)
            case "upgrade": upgradeWebSocket = upgradeWebSocket || Self.tokens(value).contains { $0.lowercased() == "websocket" }
            case "expect": expectsContinue = expectsContinue || value.lowercased() == "100-continue"
            default: break
            }
        }
        if line.version == .http11 && hosts != 1 {
            return .failure(HTTPParseError(400, "bad_request", hosts == 0 ? "HTTP/1.1 request without Host" : "more than one Host"))
        }
        var framing = RequestHead.Framing.none
        if !codings.isEmpty || fields.contains(where: { $0.name == "transfer-encoding" }) {
            guard line.version == .http11 else {
                return .failure(HTTPParseError(400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request"))
            }
            guard lengths.isEmpty else {
                return .failure(HTTPParseError(400, "bad_request", "both Content-Length and Transfer-Encoding"))
            }
            guard codings.count == 1, codings[0].lowercased() == "chunked" else {
                return .failure(HTTPParseError(400, "bad_request", "unsupported Transfer-Encoding (only chunked is accepted)"))
            }
            framing = .chunked
        } else if !lengths.isEmpty {
            guard lengths.count == 1 else {
                return .failure(HTTPParseError(400, "bad_request", "more than one Content-Length"))
            }
            let digits = lengths[0].utf8
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let n = Int(lengths[0]) else {
                return .failure(HTTPParseError(400, "bad_request", "malformed Content-Length"))
            }
            framing = .length(n)
        }
        let lowered = connectionTokens.map { $0.lowercased() }
        let keepAlive = line.version == .http11 ? !lowered.contains("close") : lowered.contains("keep-alive")
        return .success(RequestHead(
            method: line.method, target: line.target, path: path, rawQuery: rawQuery, version: line.version,
            fields: fields, framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue,
            isWebSocketUpgrade: line.method == "GET" && upgradeWebSocket && lowered.contains("upgrade")))
    }

    /// Comma-separated list elements, trimmed, empty ones dropped (RFC 9110 §5.6.1).
    static func tokens(_ value: String) -> [Substring] {
        value.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
    }

    /// RFC 9110 §5.6.2 token characters.
    static func isTchar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    // MARK: - Chunked bodies (RFC 9112 §7.1)

    /// Longest chunk-size line accepted (size and extensions).
    static let maxChunkLine = 1024

    private mutating func readChunkSize(_ bytes: UnsafeRawBufferPointer) -> (event: Event, consumed: Int) {
        guard let line = lineEnd(bytes, from: 0, limit: Self.maxChunkLine) else {
            return bytes.count >= Self.maxChunkLine ? fail(400, "bad_chunk", "chunk size line too long") : (.needMore, 0)
        }
        var size = 0
        var i = 0
        while i < line.contentEnd, let digit = PercentDecoding.hexValue(bytes[i]) {
            guard size <= (Int.max >> 4) else { return fail(400, "bad_chunk", "chunk size overflows") }
            size = size << 4 | Int(digit)
            i += 1
        }
        guard i > 0 else { return fail(400, "bad_chunk", "malformed chunk size") }
        // Extensions are allowed and ignored; control bytes are not.
        let rest = bytes[i..<line.contentEnd]
        guard rest.isEmpty || rest.first == UInt8(ascii: ";") || rest.first == 0x20 || rest.first == 0x09,
              rest.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else {
            return fail(400, "bad_chunk", "malformed chunk extension")
        }
        state = size == 0 ? .trailers(bytes: 0) : .chunkData(remaining: size)
        return after(line.next, next(UnsafeRawBufferPointer(rebasing: bytes[line.next...])))
    }

    private mutating func readTrailers(_ bytes: UnsafeRawBufferPointer, used: Int) -> (event: Event, consumed: Int) {
        var at = 0
        var total = used
        while let line = lineEnd(bytes, from: at, limit: bytes.count - at) {
            total += line.next - at
            guard total <= limits.maxHeadBytes else { return fail(431, "header_too_large", "trailer section too large") }
            if line.contentEnd == at {
                state = .head
                return (.end, line.next)
            }
            if case .failure(let e) = parseField(UnsafeRawBufferPointer(rebasing: bytes[at..<line.contentEnd])) {
                state = .failed
                return (.failed(e), 0)
            }
            at = line.next
        }
        if total + (bytes.count - at) > limits.maxHeadBytes {
            return fail(431, "header_too_large", "trailer section too large")
        }
        // Trailer fields are read and discarded; keep only the count.
        state = .trailers(bytes: total)
        return (.needMore, at)
    }
}

/// A result read from `bytes[n...]`, restated relative to `bytes`.
private func after(_ n: Int, _ r: (event: RequestParser.Event, consumed: Int)) -> (event: RequestParser.Event, consumed: Int) {
    if case .body(let range) = r.event { return (.body((range.lowerBound + n)..<(range.upperBound + n)), r.consumed + n) }
    return (r.event, r.consumed + n)
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
