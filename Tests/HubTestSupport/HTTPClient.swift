import Foundation

/// One HTTP/1.1 exchange over a fresh connection (`Connection: close`). The
/// path is sent exactly as given (no normalisation), so traversal attempts
/// reach the hub verbatim.
public struct HTTPClient: Sendable {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        }
    }

    public let port: Int
    /// Sent as `Authorization: Bearer` unless the request sets its own.
    public var token: String? = nil

    public init(port: Int, token: String? = nil) {
        self.port = port
        self.token = token
    }

    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = [],
                 timeout: TimeInterval = 5) throws -> Response {
        let socket = try TestSocket(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        var headers = headers
        if let token, !headers.keys.contains(where: { $0.lowercased() == "authorization" }) {
            headers["Authorization"] = "Bearer " + token
        }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try socket.write(Array(head.utf8) + body)
        let deadline = Date(timeIntervalSinceNow: timeout)
        // Read the head, then exactly Content-Length bytes when the peer says
        // how many (some servers keep the connection open regardless).
        let responseHead = try socket.read(until: Array("\r\n\r\n".utf8), deadline: deadline)
        let headText = String(decoding: responseHead, as: UTF8.self).lowercased()
        if let line = headText.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
            return try Self.parse(responseHead + socket.read(length, deadline: deadline))
        }
        return try Self.parse(responseHead + socket.readToEnd(deadline: deadline))
    }

    public func get(_ path: String, headers: [String: String] = [:]) throws -> Response {
        try request("GET", path, headers: headers)
    }

    public func postJSON(_ path: String, _ json: String, headers: [String: String] = [:]) throws -> Response {
        try request("POST", path, headers: ["Content-Type": "application/json"].merging(headers) { $1 }, body: Array(json.utf8))
    }

    public static func parse(_ raw: [UInt8]) throws -> Response {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = (0...max(0, raw.count - 4)).first(where: { raw[$0..<min($0 + 4, raw.count)].elementsEqual(separator) }) else {
            throw TestSocket.Closed()
        }
        let lines = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: Array(raw[(end + 4)...]))
    }
}
