/// A fixed-capacity FIFO: appending to a full ring drops the oldest element.
///
/// Backs the timeline, the idempotency memory and the replay log, none of which
/// may grow with the length of a call. Appends are O(1) and, once full, reuse
/// the storage instead of shifting it.
struct BoundedRing<Element> {
    private var storage: [Element] = []
    /// Index of the oldest element once the ring is full.
    private var head = 0
    /// The most elements kept.
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }

    /// Appends `element`; returns the element dropped to make room, if any
    /// (with capacity 0, `element` itself).
    mutating func appendEvicting(_ element: consuming Element) -> Element? {
        guard capacity > 0 else { return element }
        if storage.count < capacity {
            storage.append(element)
            return nil
        }
        let dropped = storage[head]
        overwriteOldest(with: element)
        return dropped
    }

    /// Appends `element`, dropping the oldest when full. Cheaper than
    /// `appendEvicting` when the caller does not need the dropped element.
    mutating func append(_ element: consuming Element) {
        guard capacity > 0 else { return }
        if storage.count < capacity {
            storage.append(element)
        } else {
            overwriteOldest(with: element)
        }
    }

    private mutating func overwriteOldest(with element: consuming Element) {
        storage[head] = element
        head += 1
        if head == capacity { head = 0 }
    }

    /// The `i`-th element, oldest first.
    subscript(i: Int) -> Element {
        let j = head + i
        return storage[j < storage.count ? j : j - storage.count]
    }

    /// The oldest element.
    var first: Element? { isEmpty ? nil : self[0] }
    /// The newest element.
    var last: Element? { isEmpty ? nil : self[count - 1] }

    /// All elements, oldest first.
    var elements: [Element] {
        guard head > 0 else { return storage }
        return Array(storage[head...]) + storage[..<head]
    }
}

extension BoundedRing: Sendable where Element: Sendable {}
