/// The registers of the metadata keys (§1 `metadata`: per-key LWW).
///
/// A call carries a handful of metadata keys (`agent`, `mood`, `handoff`, …),
/// so they are kept in two parallel arrays and found by comparing keys, which
/// for short keys is cheaper than hashing them; past `indexThreshold` keys a
/// dictionary index takes over so a client sending many keys cannot make each
/// lookup linear.
struct MetadataRegisters: Sendable, Codable {
    private static let indexThreshold = 8
    private(set) var keys: [String] = []
    var registers: [FieldRegister] = []
    private var index: [String: Int]?

    /// The position of `key`, inserting an unset register if it is new.
    mutating func position(of key: String) -> Int {
        if let index {
            if let i = index[key] { return i }
        } else if let i = keys.firstIndex(of: key) {
            return i
        }
        keys.append(key)
        registers.append(.unset)
        let i = keys.count - 1
        if index != nil {
            index?[key] = i
        } else if keys.count > MetadataRegisters.indexThreshold {
            index = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        }
        return i
    }

    /// The register of `key`, if any update reached it.
    subscript(key: String) -> FieldRegister? {
        if let index { return index[key].map { registers[$0] } }
        return keys.firstIndex(of: key).map { registers[$0] }
    }
}
