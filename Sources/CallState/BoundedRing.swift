/// A fixed-capacity FIFO: appending to a full ring drops the oldest element.
///
/// Backs the timeline, the quality window and the replay log, none of which
/// may grow with the length of a call. Storage is a list of fixed-size chunks
/// allocated as the ring fills: appends are O(1), never move earlier elements
/// (a doubling array would copy the whole timeline at every growth, on the hot
/// path), and a short-lived session pays for one small chunk only.
struct BoundedRing<Element> {
    /// Elements per chunk.
    private static var chunkSize: Int { 32 }
    private var chunks: [[Element]] = []
    /// Logical position of the oldest element in the storage once full.
    private var head = 0
    /// How many elements are stored.
    private(set) var count = 0
    /// The most elements kept.
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// Appends `element`; returns the element dropped to make room, if any
    /// (with capacity 0, `element` itself).
    mutating func appendEvicting(_ element: consuming Element) -> Element? {
        guard capacity > 0 else { return element }
        guard count == capacity else {
            appendToStorage(element)
            return nil
        }
        let dropped = self[0]
        overwriteOldest(with: element)
        return dropped
    }

    /// Appends `element`, dropping the oldest when full. Cheaper than
    /// `appendEvicting` when the caller does not need the dropped element.
    mutating func append(_ element: consuming Element) {
        guard capacity > 0 else { return }
        if count < capacity {
            appendToStorage(element)
        } else {
            overwriteOldest(with: element)
        }
    }

    private mutating func appendToStorage(_ element: consuming Element) {
        if count % BoundedRing.chunkSize == 0 {
            var chunk: [Element] = []
            chunk.reserveCapacity(Swift.min(BoundedRing.chunkSize, capacity - count))
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(element)
        count += 1
    }

    private mutating func overwriteOldest(with element: consuming Element) {
        chunks[head / BoundedRing.chunkSize][head % BoundedRing.chunkSize] = element
        head += 1
        if head == capacity { head = 0 }
    }

    /// The `i`-th element, oldest first.
    subscript(i: Int) -> Element {
        var j = head + i
        if j >= count { j -= count }
        return chunks[j / BoundedRing.chunkSize][j % BoundedRing.chunkSize]
    }

    /// The oldest element.
    var first: Element? { isEmpty ? nil : self[0] }
    /// The newest element.
    var last: Element? { isEmpty ? nil : self[count - 1] }

    /// All elements, oldest first.
    var elements: [Element] { (0..<count).map { self[$0] } }
}

extension BoundedRing: Sendable where Element: Sendable {}

/// Snapshots (`CallSession` is `Codable`) carry the ring as it is.
extension BoundedRing: Codable where Element: Codable {}
