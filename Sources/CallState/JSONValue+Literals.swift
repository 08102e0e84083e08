extension JSONValue: ExpressibleByStringLiteral {
    /// `"text"` where a `JSONValue` is expected.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// `["key": value]` where a `JSONValue` is expected.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// `true` / `false` where a `JSONValue` is expected.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
