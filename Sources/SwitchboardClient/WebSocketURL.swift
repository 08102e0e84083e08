/// A `ws://` / `wss://` URL split the way a socket-level client needs it.
struct WebSocketURL: Equatable {
    var secure: Bool
    var host: String
    var port: Int
    /// Path and query, starting with `/`.
    var pathAndQuery: String

    /// The `Host` header value: the port is left out when it is the default.
    var hostHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? bracketed : "\(bracketed):\(port)"
    }

    /// Parses `ws://host[:port][/path][?query]` (also `wss`, `http`, `https`,
    /// and bracketed IPv6 hosts). Nil for anything else.
    init?(_ text: String) {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("ws://") || lower.hasPrefix("http://") {
            secure = false
            rest = text[text.index(text.startIndex, offsetBy: lower.hasPrefix("ws://") ? 5 : 7)...]
        } else if lower.hasPrefix("wss://") || lower.hasPrefix("https://") {
            secure = true
            rest = text[text.index(text.startIndex, offsetBy: lower.hasPrefix("wss://") ? 6 : 8)...]
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var tail = String(rest[authorityEnd...])
        if let hash = tail.firstIndex(of: "#") { tail = String(tail[..<hash]) }
        if tail.isEmpty || tail.hasPrefix("?") { tail = "/" + tail }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { return nil }
        if let portText {
            guard let p = Int(portText), p > 0, p < 65536 else { return nil }
            port = p
        } else {
            port = secure ? 443 : 80
        }
        pathAndQuery = tail
    }
}
