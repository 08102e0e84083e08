/// Serialises HTTP/1.1 responses. Every answer the hub writes, refusals of
/// WebSocket upgrades included, starts with an `HTTP/1.1` status line:
/// strict clients (Python `websockets`, Go's net/http) reject anything else.
public enum ResponseWriter {
    /// Appends a whole response (status line, fields, empty line, body) to `out`.
    /// - Parameters:
    ///   - contentLength: the length announced; the body itself is left out
    ///     when `omitBody` (HEAD, or a 1xx/204/304 status).
    ///   - close: adds `Connection: close`.
    public static func append(status: Int, fields: [(String, String)], body: [UInt8], close: Bool,
                              omitBody: Bool = false, to out: inout [UInt8]) {
        let bodyless = status < 200 || status == 204 || status == 304
        out.reserveCapacity(out.count + 256 + fields.count * 48 + (omitBody || bodyless ? 0 : body.count))
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, to: &out)
        out.append(0x20)
        out.append(contentsOf: reason(status).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in fields {
            // A CR or LF in a value would start a new field: they are dropped.
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            for b in value.utf8 where b != 0x0D && b != 0x0A { out.append(b) }
            out.append(contentsOf: "\r\n".utf8)
        }
        if !bodyless {
            out.append(contentsOf: "content-length: ".utf8)
            appendDecimal(body.count, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        if close { out.append(contentsOf: "connection: close\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
        if !omitBody && !bodyless { out.append(contentsOf: body) }
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    /// RFC 9110 §15 reason phrases for the statuses the hub sends.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}
