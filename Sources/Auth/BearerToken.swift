/// Finds the token of a request or WebSocket upgrade (§3.1, §5).
public enum BearerToken {
    /// The subprotocol a client offers next to its `bearer.<token>` entry,
    /// and the one the hub answers with (the token is never echoed).
    public static let subprotocol = "switchboard.v1"
    /// Prefix of the `Sec-WebSocket-Protocol` entry that carries a token.
    public static let subprotocolPrefix = "bearer."

    /// `Authorization: Bearer X` wins; else a `bearer.X` entry of
    /// `Sec-WebSocket-Protocol`; else `?token=X`; else nil.
    ///
    /// The scheme is matched case-insensitively (RFC 7235 §2.1). A header
    /// that is not a non-empty Bearer credential (e.g. `Basic …`, set by a
    /// proxy) does not hide the other two. Browsers cannot set headers on a
    /// WebSocket except the subprotocol list, so that list is how they keep
    /// the token out of the URL; the query is for tools that cannot offer
    /// subprotocols.
    /// - Parameters:
    ///   - authorization: the `Authorization` header, if any.
    ///   - subprotocols: the `Sec-WebSocket-Protocol` header (entries joined
    ///     with commas), if any.
    ///   - query: the request's decoded query parameters.
    public static func extract(authorization: String?, subprotocols: String? = nil,
                               query: [String: String]) -> String? {
        if let header = authorization, let token = bearer(header) {
            return token
        }
        if let header = subprotocols, let token = fromSubprotocols(header) {
            return token
        }
        if let token = query["token"], !token.isEmpty {
            return token
        }
        return nil
    }

    /// The token of the first non-empty `bearer.<token>` entry of a
    /// `Sec-WebSocket-Protocol` value, else nil. JWTs are base64url and dots,
    /// all valid subprotocol (RFC 7230 token) characters.
    public static func fromSubprotocols(_ header: String) -> String? {
        for entry in entries(header) where entry.hasPrefix(subprotocolPrefix) {
            let token = entry.dropFirst(subprotocolPrefix.count)
            if !token.isEmpty { return String(token) }
        }
        return nil
    }

    /// The entries of a `Sec-WebSocket-Protocol` value without the ones that
    /// carry a token: what may be shown to libwebsockets, logs or anyone else.
    public static func subprotocolsWithoutToken(_ header: String) -> [String] {
        entries(header).filter { !$0.hasPrefix(subprotocolPrefix) }.map(String.init)
    }

    /// True when a `Sec-WebSocket-Protocol` value has a `bearer.` entry
    /// (even an empty one): the header then carries a secret.
    public static func offersToken(_ header: String) -> Bool {
        entries(header).contains { $0.hasPrefix(subprotocolPrefix) }
    }

    /// Comma-separated entries, trimmed, empty ones dropped.
    static func entries(_ header: String) -> [Substring] {
        header.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    }

    private static func bearer(_ header: String) -> String? {
        let trimmed = header.drop(while: \.isWhitespace)
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "bearer",
              let separator = trimmed.dropFirst(6).first, separator == " " || separator == "\t" else { return nil }
        let token = trimmed.dropFirst(7).drop(while: \.isWhitespace)
        let end = token.firstIndex(where: \.isWhitespace) ?? token.endIndex
        // Trailing whitespace is tolerated; anything after it is not a token68.
        guard token[end...].allSatisfy(\.isWhitespace) else { return nil }
        let value = token[..<end]
        return value.isEmpty ? nil : String(value)
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> Substring {
        let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
        let end = self[start...].lastIndex { $0 != " " && $0 != "\t" }.map { index(after: $0) } ?? start
        return self[start..<end]
    }
}
