import CJansson
import CallState

/// JSON at the edge: raw bytes <-> `CallState.JSONValue`.
///
/// Decoding uses jansson (`json_loadb`): it validates UTF-8, rejects `\u0000`
/// in strings (no `JSON_ALLOW_NUL`), rejects trailing garbage and caps nesting
/// depth at 2048, so the tree it hands back is safe to walk recursively.
/// Integers become `.int`, numbers with a fraction or exponent `.double`.
///
/// Encoding is done here in Swift, not with `json_dumpb`, on purpose:
/// jansson 2.14 prints reals with `%.17g` (`0.1` becomes
/// `0.10000000000000001`) and needs a heap node per value; the hub encodes
/// one frame per change on its hot path and wants the shortest round-trip
/// form of a double (`4.3`, not `4.2999999999999998`). Output is compact
/// UTF-8 (no `JSON_ENSURE_ASCII`) with object keys sorted by their UTF-8
/// bytes, so equal values always encode to equal bytes.
public enum JSONCodec {
    /// Decodes any JSON text (object, array or scalar at the top level).
    /// - Parameter bytes: UTF-8 JSON text.
    /// - Throws: `JSONCodecError` for invalid JSON, invalid UTF-8, NUL in a string.
    public static func parse(_ bytes: [UInt8]) throws(JSONCodecError) -> JSONValue {
        try parse(bytes, maxStringBytes: Int.max)
    }

    /// Decodes JSON text, replacing every string longer than `maxStringBytes`
    /// UTF-8 bytes with `.null`.
    ///
    /// For bodies that carry a large blob nobody reads (ElevenLabs'
    /// `post_call_audio` holds the whole call as base64): the blob is never
    /// copied into a Swift `String`.
    public static func parse(_ bytes: [UInt8], maxStringBytes: Int) throws(JSONCodecError) -> JSONValue {
        // `withUnsafeBytes` only rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONCodecError) -> JSONValue in try parse(raw, maxStringBytes: maxStringBytes) }
        }
        return try result.get()
    }

    /// Decodes JSON text held in a `String`.
    public static func parse(_ text: String) throws(JSONCodecError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Decodes JSON text from memory the caller owns (e.g. a libwebsockets
    /// receive buffer), without copying it into an array first.
    public static func parse(_ raw: UnsafeRawBufferPointer, maxStringBytes: Int = Int.max) throws(JSONCodecError) -> JSONValue {
        var error = json_error_t()
        // An empty buffer may have a nil base address; jansson wants a pointer.
        let root: UnsafeMutablePointer<json_t>? = withUnsafePointer(to: 0 as CChar) { fallback in
            let base = raw.baseAddress?.assumingMemoryBound(to: CChar.self) ?? fallback
            return json_loadb(base, raw.count, Int(JSON_DECODE_ANY), &error)
        }
        guard let root else {
            throw JSONCodecError(
                message: withUnsafeBytes(of: &error.text) { text in
                    String(decoding: text.prefix(while: { $0 != 0 }), as: UTF8.self)
                },
                line: Int(error.line), column: Int(error.column), position: Int(error.position))
        }
        defer { CJansson_decref(root) }
        return convert(root, maxStringBytes: maxStringBytes)
    }

    private static func convert(_ node: UnsafeMutablePointer<json_t>, maxStringBytes: Int) -> JSONValue {
        switch json_type(rawValue: UInt32(CJansson_typeof(node))) {
        case JSON_OBJECT:
            // `init(minimumCapacity:)` is inlined and specialised here;
            // `reserveCapacity` looks up generic metadata on every call.
            var members = [String: JSONValue](minimumCapacity: json_object_size(node))
            var iter = json_object_iter(node)
            while let it = iter {
                let key = string(json_object_iter_key(it), count: json_object_iter_key_len(it))
                if let child = json_object_iter_value(it) {
                    members[key] = convert(child, maxStringBytes: maxStringBytes)
                }
                iter = json_object_iter_next(node, it)
            }
            return .object(members)
        case JSON_ARRAY:
            let count = json_array_size(node)
            var items: [JSONValue] = []
            items.reserveCapacity(count)
            for index in 0..<count {
                if let child = json_array_get(node, index) {
                    items.append(convert(child, maxStringBytes: maxStringBytes))
                }
            }
            return .array(items)
        case JSON_STRING:
            let count = json_string_length(node)
            if count > maxStringBytes { return .null }
            return .string(string(json_string_value(node), count: count))
        case JSON_INTEGER:
            return .int(Int64(json_integer_value(node)))
        case JSON_REAL:
            return .double(json_real_value(node))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }

    /// jansson guarantees valid UTF-8 and gives the length (strings may not
    /// contain NUL without JSON_ALLOW_NUL, but the length is still exact).
    private static func string(_ chars: UnsafePointer<CChar>?, count: Int) -> String {
        guard let chars, count > 0 else { return "" }
        return chars.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        }
    }

    // MARK: - Encoding

    /// Encodes a value as compact UTF-8 JSON with sorted keys.
    ///
    /// Doubles use Swift's shortest round-trip representation; NaN and
    /// infinities, which JSON cannot express, encode as `null`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(value, into: &out)
        return out
    }

    /// `encode(_:)` as a `String`.
    public static func encodeString(_ value: JSONValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// Appends the encoding of `value` to `out` (for callers that frame
    /// several values, or need headroom in front, into one buffer).
    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null:
            writeRaw("null", into: &out)
        case .bool(let b):
            writeBool(b, into: &out)
        case .int(let i):
            writeInt(i, into: &out)
        case .double(let d):
            writeDouble(d, into: &out)
        case .string(let s):
            writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            // Byte order of the UTF-8 keys: locale- and normalisation-free,
            // hence deterministic across processes and platforms. Sorting the
            // pairs (not the keys, then looking each up again) hashes nothing.
            writeObject(ordered: members.sorted { $0.key.precedesByUTF8($1.key) }, into: &out)
        }
    }

    /// Writes an object whose members the caller already holds in canonical
    /// key order (`String.precedesByUTF8`): the same bytes as `write(.object(…))`
    /// without building a dictionary or sorting. Debug builds check the order.
    public static func writeObject(ordered members: [(key: String, value: JSONValue)], into out: inout [UInt8]) {
        assert(zip(members, members.dropFirst()).allSatisfy { $0.key.precedesByUTF8($1.key) },
               "members not in canonical order")
        out.append(UInt8(ascii: "{"))
        for (index, member) in members.enumerated() {
            writeKey(member.key, first: index == 0, into: &out)
            write(member.value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Writes `"key":`, preceded by a comma unless it is the object's first
    /// member: for callers that write an object's members themselves, in
    /// canonical order, to avoid materialising a nested value.
    public static func writeKey(_ key: String, first: Bool, into out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
    }

    // MARK: Typed members, for callers that write an object straight from
    // their own fields (no `JSONValue` built, nothing to sort or free).

    /// Appends `literal` unchanged: pre-escaped text such as `,"callId":`.
    @inline(__always)
    public static func writeRaw(_ literal: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends `value` as a JSON string, or `null`.
    public static func writeString(_ value: String?, into out: inout [UInt8]) {
        if let value { writeString(value, into: &out) } else { writeRaw("null", into: &out) }
    }

    /// Appends `value` as a JSON integer, or `null`.
    public static func writeInt(_ value: Int64?, into out: inout [UInt8]) {
        if let value { out.append(contentsOf: String(value).utf8) } else { writeRaw("null", into: &out) }
    }

    /// Appends `value` as a JSON number, or `null` (also for NaN and the
    /// infinities, which JSON cannot express).
    public static func writeDouble(_ value: Double?, into out: inout [UInt8]) {
        guard let value, value.isFinite else { return writeRaw("null", into: &out) }
        // `description` is the shortest text that reads back as the same
        // double: "4.3", "1e-05", "1e+20", "100.0": all valid JSON numbers.
        out.append(contentsOf: value.description.utf8)
    }

    /// Appends `true`, `false` or `null`.
    public static func writeBool(_ value: Bool?, into out: inout [UInt8]) {
        switch value {
        case true?: writeRaw("true", into: &out)
        case false?: writeRaw("false", into: &out)
        case nil: writeRaw("null", into: &out)
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them in one go.
        let copied: Bool? = s.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: needsEscape) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied != true {
            for byte in s.utf8 { writeEscaped(byte, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F
    }

    private static func writeEscaped(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        case 0x00..<0x20, 0x7F:
            out.append(contentsOf: "\\u00".utf8)
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        default:
            out.append(byte)
        }
    }
}
