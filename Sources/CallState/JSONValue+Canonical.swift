/// Canonical JSON text: one spelling per value, so equal values give equal bytes.
///
/// The rules, chosen so the text is valid RFC 8259 JSON and stable across runs:
/// - objects: keys sorted by their UTF-8 bytes, no whitespace anywhere;
/// - integers: decimal, as `String(Int64)`;
/// - doubles: an integral double with magnitude below 2^53 is written as an
///   integer (`2.0` → `2`), so `.int(2)` and `.double(2)` spell the same number
///   the same way; any other finite double uses Swift's shortest round-trip
///   `description` (`0.1`, `1e-05`, `1e+20`), which is valid JSON; NaN and
///   infinities have no JSON spelling and are written `null`;
/// - strings: `"` and `\` escaped, `\b \f \n \r \t` by their short escapes, other
///   controls below U+0020 as `\u00XX` (lower-case hex), everything else raw
///   UTF-8 (no `\u` for non-ASCII, no escaping of `/`).
extension JSONValue {
    /// The canonical JSON text of this value (see the rules above).
    ///
    /// The merge order's last tie-break (§2.2 rule 7) compares these bytes, and
    /// equal documents encode to equal text.
    public var canonicalText: String {
        var out = ""
        writeCanonical(into: &out)
        return out
    }

    /// Appends the canonical text to `out`.
    func writeCanonical(into out: inout String) {
        switch self {
        case .null:
            out += "null"
        case .bool(let b):
            out += b ? "true" : "false"
        case .int(let i):
            out += String(i)
        case .double(let d):
            JSONValue.writeCanonical(double: d, into: &out)
        case .string(let s):
            JSONValue.writeCanonical(string: s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.writeCanonical(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            let keys = members.keys.sorted { $0.precedesByUTF8($1) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeCanonical(string: key, into: &out)
                out += ":"
                // The key came from `members`, so the lookup cannot miss.
                (members[key] ?? .null).writeCanonical(into: &out)
            }
            out += "}"
        }
    }

    private static func writeCanonical(double d: Double, into out: inout String) {
        guard d.isFinite else {
            out += "null"
            return
        }
        // 2^53: below it every integer is exactly representable, so the integer
        // spelling round-trips; `-0.0` becomes `0`.
        if d.rounded(.towardZero) == d && abs(d) < 9_007_199_254_740_992 {
            out += String(Int64(d))
        } else {
            out += d.description
        }
    }

    private static func writeCanonical(string s: String, into out: inout String) {
        out += "\""
        // Most strings need no escaping: append them whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar.value {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x08: out += "\\b"
                case 0x0C: out += "\\f"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0..<0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// Whether two values are the same JSON value: structurally equal, or the same
    /// number spelled as int and double (`1` and `1.0`), i.e. equal canonical text.
    func sameJSON(as other: JSONValue) -> Bool {
        if self == other { return true }
        switch (self, other) {
        case (.int, .double), (.double, .int), (.array, .array), (.object, .object):
            return canonicalText == other.canonicalText
        default:
            return false
        }
    }
}
