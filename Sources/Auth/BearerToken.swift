/// Finds the token of a request or WebSocket upgrade (§3.1, §5).
public enum BearerToken {
    /// `Authorization: Bearer X` wins; else `?token=X`; else nil.
    ///
    /// The scheme is matched case-insensitively (RFC 7235 §2.1). A header
    /// that is not a non-empty Bearer credential (e.g. `Basic …`, set by a
    /// proxy) does not hide a `?token=`: browsers cannot set headers on a
    /// WebSocket, so the query is the only channel they have.
    /// - Parameter query: the request's decoded query parameters.
    public static func extract(authorization: String?, query: [String: String]) -> String? {
        if let header = authorization, let token = bearer(header) {
            return token
        }
        if let token = query["token"], !token.isEmpty {
            return token
        }
        return nil
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
