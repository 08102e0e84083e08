// INTERIM: replaced by the providers branch's JSONCodec on merge.
import CallState
import CJansson

public struct JSONCodecError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

public enum JSONCodec {
    public static func parse(_ bytes: [UInt8]) throws(JSONCodecError) -> JSONValue {
        var err = json_error_t()
        let root: UnsafeMutablePointer<json_t>? = bytes.withUnsafeBytes { buf in
            json_loadb(buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count, Int(JSON_DECODE_ANY), &err)
        }
        guard let root else {
            let text = withUnsafeBytes(of: err.text) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            throw JSONCodecError(message: text)
        }
        defer { CJansson_decref(root) }
        return convert(root)
    }

    static func convert(_ j: UnsafeMutablePointer<json_t>) -> JSONValue {
        switch json_type(rawValue: UInt32(CJansson_typeof(j))) {
        case JSON_OBJECT:
            var out: [String: JSONValue] = [:]
            var it = json_object_iter(j)
            while let i = it {
                let key = String(cString: json_object_iter_key(i))
                out[key] = convert(json_object_iter_value(i))
                it = json_object_iter_next(j, i)
            }
            return .object(out)
        case JSON_ARRAY:
            return .array((0..<json_array_size(j)).map { convert(json_array_get(j, $0)) })
        case JSON_STRING:
            return .string(String(decoding: UnsafeRawBufferPointer(start: json_string_value(j), count: json_string_length(j)), as: UTF8.self))
        case JSON_INTEGER: return .int(Int64(json_integer_value(j)))
        case JSON_REAL: return .double(json_real_value(j))
        case JSON_TRUE: return .bool(true)
        case JSON_FALSE: return .bool(false)
        default: return .null
        }
    }

    public static func encode(_ value: JSONValue) -> [UInt8] {
        let j = build(value)
        defer { CJansson_decref(j) }
        let flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY
        let size = json_dumpb(j, nil, 0, Int(flags))
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBufferPointer { json_dumpb(j, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), size, Int(flags)) }
        return out
    }

    static func build(_ value: JSONValue) -> UnsafeMutablePointer<json_t> {
        switch value {
        case .null: return json_null()
        case .bool(let b): return b ? json_true() : json_false()
        case .int(let i): return json_integer(json_int_t(i))
        case .double(let d): return json_real(d)
        case .string(let s): return s.withCString { json_stringn($0, s.utf8.count) }
        case .array(let a):
            let j = json_array()!
            for v in a { json_array_append_new(j, build(v)) }
            return j
        case .object(let o):
            let j = json_object()!
            for (k, v) in o { json_object_set_new(j, k, build(v)) }
            return j
        }
    }
}
