/// `application/x-www-form-urlencoded` decoding (WHATWG URL §5.1).
enum Form {
    /// Decodes every `name=value` pair in order: `+` is a space, `%XX` a
    /// byte, the bytes UTF-8.
    ///
    /// Deliberately lenient (a malformed `%` escape stays literal, invalid
    /// UTF-8 becomes U+FFFD): Twilio's signature is checked over the decoded
    /// pairs, and an unverified request must get 401 before anything judges
    /// its contents.
    static func decode(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for part in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let eq = part.firstIndex(of: UInt8(ascii: "=")) {
                pairs.append((percentDecode(part[part.startIndex..<eq]), percentDecode(part[(eq + 1)...])))
            } else {
                pairs.append((percentDecode(part), ""))
            }
        }
        return pairs
    }

    /// Decodes a query string (same grammar as a form body).
    static func decode(query: String) -> [(name: String, value: String)] {
        decode(Array(query.utf8))
    }

    /// Name → first value: what the parsers read. The signature uses `decode`.
    static func dictionary(_ pairs: [(name: String, value: String)]) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in pairs where out[name] == nil { out[name] = value }
        return out
    }

    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                      let hi = hexValue(bytes[index + 1]), let lo = hexValue(bytes[index + 2]) {
                out.append(hi << 4 | lo)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
