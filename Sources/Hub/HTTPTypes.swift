import CallState
import JSONCodec

/// An HTTP request as the hub sees it, independent of the transport.
public struct HTTPRequest: Sendable {
    public var method: String
    /// Decoded path, no query.
    public var path: String
    public var query: [String: String]
    /// The query string as sent (`a=1&b=2`), for signatures computed over the URL.
    public var rawQuery: String?
    /// Lower-cased names.
    public var headers: [String: String]
    public var body: [UInt8]
    /// The client address (after trusted-proxy resolution).
    public var peer: String

    public init(method: String, path: String, query: [String: String] = [:], rawQuery: String? = nil,
                headers: [String: String] = [:], body: [UInt8] = [], peer: String = "") {
        self.method = method
        self.path = path
        self.query = query
        self.rawQuery = rawQuery
        self.headers = headers
        self.body = body
        self.peer = peer
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String?
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String? = nil, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// A JSON body (canonical encoding).
    public static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", headers: headers, body: JSONCodec.encode(value))
    }

    /// PROTOCOL.md §6 error shape: `{"error":{"code","message"}}`.
    public static func error(_ status: Int, _ code: String, _ message: String,
                             headers: [(String, String)] = []) -> HTTPResponse {
        json(status, .object(["error": .object(["code": .string(code), "message": .string(message)])]), headers: headers)
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.contentType == b.contentType && a.body == b.body
            && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }
}

extension HTTPResponse {
    /// Marker a route handler returns when the real answer follows the
    /// journal commit through `Hub.deliverResponse`. Never sent.
    public static let accepted = HTTPResponse(status: 202, contentType: "switchboard/deferred")
}
