extension String {
    /// Whether this string sorts before `other` by their UTF-8 bytes: the
    /// order of canonical JSON object keys, of the merge order's `source`
    /// rule, and of signed parameter lists. Locale- and normalisation-free,
    /// hence the same in every process and on every platform.
    ///
    /// Compares the contiguous UTF-8 storage every native string has; the
    /// generic comparison of two `UTF8View`s walks them a byte at a time
    /// through the view's index machinery, which showed in frame encoding.
    public func precedesByUTF8(_ other: String) -> Bool {
        let fast = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b in a.lexicographicallyPrecedes(b) }
        }
        return (fast ?? nil) ?? utf8.lexicographicallyPrecedes(other.utf8)
    }

    /// Whether the two strings have the same UTF-8 bytes: equality of opaque
    /// tokens (event ids), without `==`'s Unicode canonical equivalence. The
    /// same contiguous-storage fast path as `precedesByUTF8`.
    func equalsByUTF8(_ other: String) -> Bool {
        if utf8.count != other.utf8.count { return false }
        let fast = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b in a.elementsEqual(b) }
        }
        return (fast ?? nil) ?? utf8.elementsEqual(other.utf8)
    }
}
