/// Session id validation (PROTOCOL.md §1): 1-128 characters of `[A-Za-z0-9._:-]`.
public enum SessionID {
    /// Whether `id` is a valid session id.
    public static func isValid<S: StringProtocol>(_ id: S) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 128 else { return false }
        return utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
        }
    }
}
