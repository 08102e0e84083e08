/// Why bytes could not be decoded as JSON: jansson's message and position.
public struct JSONCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// jansson's explanation, e.g. `'[' or '{' expected near 'x'`.
    public let message: String
    /// 1-based line of the error, or -1 when jansson did not know.
    public let line: Int
    /// 1-based column (in characters) of the error, or -1.
    public let column: Int
    /// Byte offset of the error from the start of the input.
    public let position: Int

    public init(message: String, line: Int = -1, column: Int = -1, position: Int = 0) {
        self.message = message
        self.line = line
        self.column = column
        self.position = position
    }

    public var description: String {
        line >= 0 ? "\(message) (line \(line), column \(column))" : message
    }
}
