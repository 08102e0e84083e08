import CallState

/// Reads a JSON document in chunks and keeps only the scalars at a few
/// object paths, in constant memory: everything else, however large (a
/// base64 call recording), is scanned and forgotten.
///
/// It checks structure (balanced containers, string escapes, keys before
/// colons) but is not a full validator: it exists so a large webhook can be
/// verified and mapped without ever being held.
struct JSONScalarScanner {
    /// Object-key paths whose scalar values are kept (`["data", "conversation_id"]`).
    let wanted: Set<[String]>
    private(set) var captured: [[String]: JSONValue] = [:]
    private(set) var malformed = false

    /// Longest string kept; longer wanted values are treated as absent.
    static let maxCapturedBytes = 4096

    private struct Container {
        let isObject: Bool
        var key: String?
        /// In an object: the next string is a key (after `{` or `,`).
        var expectingKey: Bool
        /// In an object: the key's `:` was seen, a value may follow.
        var sawColon = false
    }

    private enum Token {
        case none
        case string(bytes: [UInt8], keep: Bool, escaped: Bool, isKey: Bool, length: Int)
        case bare([UInt8])  // number or literal
    }

    private var stack: [Container] = []
    private var token = Token.none
    private var finishedRoot = false

    init(wanted: Set<[String]>) { self.wanted = wanted }

    /// The current value's path, when every enclosing container is an object.
    private var path: [String]? {
        var keys: [String] = []
        for c in stack {
            guard c.isObject, let key = c.key else { return nil }
            keys.append(key)
        }
        return keys
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes where !malformed { step(byte) }
    }

    /// Whether the document was complete and well formed.
    mutating func finish() -> Bool {
        if case .bare = token { endBare() }
        return !malformed && stack.isEmpty && finishedRoot
    }

    private mutating func step(_ byte: UInt8) {
        switch token {
        case .string(var buffer, let keep, let escaped, let isKey, let length):
            if escaped {
                if keep { buffer.append(byte) }
                token = .string(bytes: buffer, keep: keep, escaped: false, isKey: isKey, length: length + 1)
            } else if byte == UInt8(ascii: "\\") {
                if keep { buffer.append(byte) }
                token = .string(bytes: buffer, keep: keep, escaped: true, isKey: isKey, length: length + 1)
            } else if byte == UInt8(ascii: "\"") {
                token = .none
                endString(buffer, kept: keep && length <= Self.maxCapturedBytes, isKey: isKey)
            } else {
                let stillKeep = keep && length < Self.maxCapturedBytes
                if stillKeep { buffer.append(byte) }
                token = .string(bytes: stillKeep ? buffer : [], keep: stillKeep, escaped: false, isKey: isKey,
                                length: length + 1)
            }
            return
        case .bare(var buffer):
            if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
                || (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "E") {
                buffer.append(byte)
                token = buffer.count > 64 ? .none : .bare(buffer)
                if buffer.count > 64 { malformed = true }
                return
            }
            endBare()
        case .none:
            break
        }
        switch byte {
        case 0x20, 0x09, 0x0A, 0x0D:
            return
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard beginValue() else { return }
            stack.append(Container(isObject: byte == UInt8(ascii: "{"), key: nil, expectingKey: byte == UInt8(ascii: "{")))
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            guard let top = stack.popLast(), top.isObject == (byte == UInt8(ascii: "}")) else { malformed = true; return }
            endValue()
        case UInt8(ascii: ","):
            guard var top = stack.popLast() else { malformed = true; return }
            if top.isObject { top.expectingKey = true; top.key = nil; top.sawColon = false }
            stack.append(top)
        case UInt8(ascii: ":"):
            guard let top = stack.last, top.isObject, top.key != nil, !top.expectingKey, !top.sawColon else {
                malformed = true
                return
            }
            stack[stack.count - 1].sawColon = true
        case UInt8(ascii: "\""):
            if var top = stack.last, top.isObject, top.expectingKey {
                top.expectingKey = false
                stack[stack.count - 1] = top
                token = .string(bytes: [], keep: true, escaped: false, isKey: true, length: 0)
            } else {
                guard beginValue() else { return }
                let keep = path.map(wanted.contains) ?? false
                token = .string(bytes: [], keep: keep, escaped: false, isKey: false, length: 0)
            }
        default:
            guard beginValue() else { return }
            token = .bare([byte])
        }
    }

    /// A value may start here (not a second root, not where a key belongs).
    private mutating func beginValue() -> Bool {
        if stack.isEmpty && finishedRoot { malformed = true }
        if let top = stack.last, top.isObject, top.key == nil || top.expectingKey || !top.sawColon { malformed = true }
        return !malformed
    }

    private mutating func endValue() {
        if stack.isEmpty { finishedRoot = true }
    }

    private mutating func endString(_ bytes: [UInt8], kept: Bool, isKey: Bool) {
        if isKey {
            stack[stack.count - 1].key = kept ? JSONScalarScanner.unescape(bytes) : "\u{0}(long key)"
            return
        }
        if kept, let path { captured[path] = .string(JSONScalarScanner.unescape(bytes)) }
        endValue()
    }

    private mutating func endBare() {
        guard case .bare(let bytes) = token else { return }
        token = .none
        let text = String(decoding: bytes, as: UTF8.self)
        let value: JSONValue?
        switch text {
        case "true": value = .bool(true)
        case "false": value = .bool(false)
        case "null": value = .null
        default: value = Int64(text).map(JSONValue.int) ?? Double(text).map(JSONValue.double)
        }
        guard let value else { malformed = true; return }
        if let path, wanted.contains(path) { captured[path] = value }
        endValue()
    }

    /// JSON string escapes; `\u` in the Basic Multilingual Plane (ids and
    /// types are ASCII in practice).
    static func unescape(_ bytes: [UInt8]) -> String {
        guard bytes.contains(UInt8(ascii: "\\")) else { return String(decoding: bytes, as: UTF8.self) }
        var out = ""
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "\\"), i + 1 < bytes.count else {
                out += String(decoding: [b], as: UTF8.self)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out += "\n"
            case UInt8(ascii: "t"): out += "\t"
            case UInt8(ascii: "r"): out += "\r"
            case UInt8(ascii: "b"): out += "\u{8}"
            case UInt8(ascii: "f"): out += "\u{c}"
            case UInt8(ascii: "u") where i + 4 <= bytes.count:
                let hex = String(decoding: bytes[i..<(i + 4)], as: UTF8.self)
                if let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) { out.unicodeScalars.append(scalar) }
                i += 4
            default: out += String(decoding: [e], as: UTF8.self)
            }
        }
        return out
    }
}
