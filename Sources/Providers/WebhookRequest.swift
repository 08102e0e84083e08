/// One HTTP request to a webhook route, as the transport received it.
public struct WebhookRequest: Sendable {
    /// The request path without query, e.g. `/api/twilio/status`.
    public var path: String
    /// Query parameters, percent-decoded (last value wins for repeated names).
    public var query: [String: String]
    /// The query string exactly as received, without `?`. Twilio signs the
    /// URL including it, byte for byte, so the decoded form is not enough.
    public var rawQuery: String?
    /// Header names lower-cased; values as received.
    public var headers: [String: String]
    /// The raw body: signatures are computed over these bytes.
    public var body: [UInt8]

    public init(path: String, query: [String: String] = [:], rawQuery: String? = nil,
                headers: [String: String] = [:], body: [UInt8] = []) {
        self.path = path
        self.query = query
        self.rawQuery = rawQuery
        self.headers = headers
        self.body = body
    }

    /// The media type of `content-type`, lower-cased, without parameters
    /// (`application/json; charset=utf-8` → `application/json`); nil if absent.
    var mediaType: String? {
        guard let value = headers["content-type"] else { return nil }
        // Already bare and lower-case, as nearly every sender writes it:
        // return it without building a copy.
        let needsWork = value.utf8.contains { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: " ")
            || $0 == UInt8(ascii: "\t") || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
        if !needsWork { return value.isEmpty ? nil : value }
        let type = Array(value.utf8.prefix { $0 != UInt8(ascii: ";") })[...].trimmingSpaces()
        guard !type.isEmpty else { return nil }
        // Media types are ASCII and case-insensitive: lower-case the ASCII
        // letters byte by byte (this runs for every webhook).
        return String(decoding: type.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Throws 415 unless the body is declared JSON (or undeclared: some
    /// forwarders, `curl -d` among them, send none or form by default and we
    /// would rather parse than refuse a correctly signed event).
    func requireJSONContentType() throws(WebhookError) {
        guard let type = mediaType else { return }
        if type == "application/json" || type.hasSuffix("+json") { return }
        throw .unsupportedMediaType("expected application/json, got \(type)")
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (no Foundation here).
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}

extension ArraySlice<UInt8> {
    /// Without leading and trailing spaces and tabs: `trimmingSpaces()` for
    /// UTF-8 bytes.
    func trimmingSpaces() -> ArraySlice<UInt8> {
        let isSpace = { (b: UInt8) in b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return [] }
        return self[first...lastIndex(where: { !isSpace($0) })!]
    }
}
