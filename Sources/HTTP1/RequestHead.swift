/// The parsed head of one HTTP/1.1 request (RFC 9112 §2-§6): everything
/// before the body, already validated.
public struct RequestHead: Sendable {
    public enum Version: Sendable { case http10, http11 }

    /// How the body that follows the head is delimited (RFC 9112 §6.3).
    public enum Framing: Sendable, Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// The method token as sent (methods are case-sensitive).
    public var method: String
    /// The request target as sent.
    public var target: String
    /// The target's path, percent-decoded; never contains a control byte.
    public var path: String
    /// What follows `?` in the target, as sent (signatures are computed over it).
    public var rawQuery: String?
    public var version: Version
    /// Fields in arrival order, names lower-cased, values without surrounding whitespace.
    public var fields: [(name: String, value: String)]
    public var framing: Framing
    /// Whether the connection stays open after this exchange.
    public var keepAlive: Bool
    /// `Expect: 100-continue`: the client waits for a `100` before sending the body.
    public var expectsContinue: Bool
    /// A WebSocket opening handshake (RFC 6455 §4.1): `GET` with
    /// `Upgrade: websocket` and `Connection: upgrade`.
    public var isWebSocketUpgrade: Bool

    /// The first field named `name` (lower-case), or nil.
    public func field(_ name: String) -> String? {
        for field in fields where field.name == name { return field.value }
        return nil
    }

    /// Fields as a dictionary; repeated names are joined with ", " (RFC 9110 §5.3).
    public var fieldDictionary: [String: String] {
        var out = [String: String](minimumCapacity: fields.count)
        for (name, value) in fields {
            if let earlier = out[name] { out[name] = earlier + ", " + value } else { out[name] = value }
        }
        return out
    }

    /// The query's `name=value` pairs, percent-decoded (`+` is a space, as
    /// in HTML forms); pairs that do not decode are left out.
    public var queryItems: [(String, String)] {
        guard let rawQuery, !rawQuery.isEmpty else { return [] }
        var out: [(String, String)] = []
        for pair in rawQuery.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: UInt8(ascii: "="))
            let name = eq.map { pair[pair.startIndex..<$0] } ?? pair[...]
            let value = eq.map { pair[pair.index(after: $0)...] } ?? pair[pair.endIndex...]
            guard let n = PercentDecoding.decode(name, plusIsSpace: true),
                  let v = PercentDecoding.decode(value, plusIsSpace: true) else { continue }
            out.append((String(decoding: n, as: UTF8.self), String(decoding: v, as: UTF8.self)))
        }
        return out
    }
}

/// Why a request cannot be read; the connection answers `status` and closes,
/// since the framing of whatever follows is unknown.
public struct HTTPParseError: Error, Equatable, Sendable {
    public var status: Int
    public var code: String
    public var message: String

    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}

/// `%XX` decoding over bytes.
public enum PercentDecoding {
    /// The decoded bytes, or nil when a `%` is not followed by two hex digits.
    public static func decode<C: Collection>(_ bytes: C, plusIsSpace: Bool = false) -> [UInt8]? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                let h = bytes.index(after: i)
                guard h != bytes.endIndex else { return nil }
                let l = bytes.index(after: h)
                guard l != bytes.endIndex, let hi = hexValue(bytes[h]), let lo = hexValue(bytes[l]) else { return nil }
                out.append(hi << 4 | lo)
                i = bytes.index(after: l)
                continue
            }
            out.append(plusIsSpace && b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b)
            i = bytes.index(after: i)
        }
        return out
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
