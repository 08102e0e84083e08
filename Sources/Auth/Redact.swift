/// Keeps bearer tokens out of logs (§5: `?token=` is redacted from every log).
public enum Redact {
    /// What a token's value becomes.
    public static let placeholder = "REDACTED"

    /// Replaces the value of every `token=` parameter in a query string, a
    /// URL or a whole request line with `REDACTED`.
    ///
    /// Parameters are delimited by `?`, `&`, `;`, `#` (the dashboard takes
    /// `#token=`) and whitespace or quotes (so a logged request line or a
    /// quoted URL keeps its tail). Any parameter whose name ends in `token`,
    /// case-insensitively (`access_token`, `authToken`), is redacted too:
    /// over-redacting a log costs nothing, a leaked bearer token costs a session.
    public static func query(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var segment = Substring()
        var index = text.startIndex
        var segmentStart = index
        while index < text.endIndex {
            let c = text[index]
            if isDelimiter(c) {
                segment = text[segmentStart..<index]
                out += redactSegment(segment)
                out.append(c)
                segmentStart = text.index(after: index)
            }
            index = text.index(after: index)
        }
        out += redactSegment(text[segmentStart...])
        return out
    }

    private static func isDelimiter(_ c: Character) -> Bool {
        c == "?" || c == "&" || c == ";" || c == "#" || c == "\"" || c == "'" || c.isWhitespace
    }

    private static func redactSegment(_ segment: Substring) -> String {
        guard let equals = segment.firstIndex(of: "=") else { return String(segment) }
        let name = segment[..<equals]
        guard !name.isEmpty, name.lowercased().hasSuffix("token") else { return String(segment) }
        return String(name) + "=" + placeholder
    }
}
