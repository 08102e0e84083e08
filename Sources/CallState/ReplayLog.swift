/// The last frames of a session, by version, for resume (§3.2 `?since=V`).
///
/// Keeps at most `capacity` (`retention.replayFrames`, default 256) elements.
/// Versions must be appended in increasing order; they need not be contiguous
/// (a conflated or rate-limited frame simply has no entry), so the log tracks
/// the version up to which it is complete rather than assuming `oldest - 1`.
public struct ReplayLog<Element> {
    private var ring: BoundedRing<(version: Int64, element: Element)>
    /// Every change up to and including this version is behind the retained
    /// elements: the version of the last evicted element, or the start.
    public private(set) var floor: Int64
    /// The version of the newest element, or `floor` when empty.
    public private(set) var newest: Int64

    /// Creates an empty log.
    /// - Parameters:
    ///   - capacity: elements kept (`retention.replayFrames`).
    ///   - startVersion: the session's version when the log starts; a client at
    ///     this version has missed nothing.
    public init(capacity: Int = 256, startVersion: Int64 = 0) {
        ring = BoundedRing(capacity: capacity)
        floor = startVersion
        newest = startVersion
    }

    /// How many elements are retained.
    public var count: Int { ring.count }

    /// Appends the element produced at `version` (greater than any before),
    /// dropping the oldest when full.
    public mutating func append(version: Int64, element: Element) {
        precondition(version > newest, "ReplayLog versions must increase")
        if let dropped = ring.appendEvicting((version, element)) { floor = dropped.version }
        newest = version
    }

    /// The elements with version greater than `version`, oldest first; `[]` when
    /// `version` is the newest. Nil when the log cannot tell: `version` is older
    /// than its floor (a gap: something after it was dropped) or newer than
    /// anything it has seen. A nil answer means "send a fresh snapshot".
    public func since(_ version: Int64) -> [Element]? {
        guard version >= floor, version <= newest else { return nil }
        var result: [Element] = []
        for i in 0..<ring.count where ring[i].version > version {
            result.append(ring[i].element)
        }
        return result
    }
}

extension ReplayLog: Sendable where Element: Sendable {}
