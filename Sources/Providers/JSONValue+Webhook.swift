import CallState
import JSONCodec

/// Typed member access for webhook bodies: missing or null members are nil,
/// members of the wrong type are a 400 (the body is not what the provider
/// documents), so parsers stay short and the error names the member.
extension JSONValue {
    static func parseWebhookBody(_ body: [UInt8], maxStringBytes: Int = Int.max) throws(WebhookError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONCodec.parse(body, maxStringBytes: maxStringBytes)
        } catch {
            throw .badRequest("body is not valid JSON: \(error.message)")
        }
        guard case .object = value else { throw .badRequest("body must be a JSON object") }
        return value
    }

    func string(_ key: String) throws(WebhookError) -> String? {
        switch self[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw .badRequest("\(key) must be a string")
        }
    }

    func requiredString(_ key: String) throws(WebhookError) -> String {
        guard let s = try string(key), !s.isEmpty else { throw .badRequest("\(key) is required") }
        return s
    }

    /// An integer member; integral doubles and decimal strings are accepted
    /// too, because providers are not consistent about it (Agora's `uid`).
    func int(_ key: String) throws(WebhookError) -> Int64? {
        switch self[key] {
        case nil, .null?: return nil
        case .int(let i)?: return i
        case .double(let d)? where d.rounded() == d && abs(d) < 9.0e15: return Int64(d)
        case .string(let s)? where Int64(s) != nil: return Int64(s)
        default: throw .badRequest("\(key) must be an integer")
        }
    }

    /// A numeric member; numeric strings are accepted (Telnyx sends `"4.50"`).
    func number(_ key: String) throws(WebhookError) -> Double? {
        switch self[key] {
        case nil, .null?: return nil
        case .int(let i)?: return Double(i)
        case .double(let d)?: return d
        case .string(let s)? where Double(s) != nil: return Double(s)
        default: throw .badRequest("\(key) must be a number")
        }
    }

    func object(_ key: String) throws(WebhookError) -> JSONValue? {
        switch self[key] {
        case nil, .null?: return nil
        case .object(let o)?: return .object(o)
        default: throw .badRequest("\(key) must be an object")
        }
    }
}
