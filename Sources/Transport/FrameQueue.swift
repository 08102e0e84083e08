import Hub

/// A connection's outgoing frames: FIFO with byte accounting. Frames are
/// shared references, so queueing costs one pointer, not one copy.
struct FrameQueue {
    private var items: [Frame] = []
    private var head = 0
    /// Payload bytes waiting.
    private(set) var bytes = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    mutating func append(_ frame: Frame) {
        items.append(frame)
        bytes += frame.count
    }

    var first: Frame? { isEmpty ? nil : items[head] }

    mutating func removeFirst() {
        bytes -= items[head].count
        head += 1
        // Compact once the dead prefix dominates: amortised O(1) per frame.
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        } else if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 256)
            head = 0
        }
    }

    var last: Frame? { isEmpty ? nil : items[items.count - 1] }

    /// Drops the newest frame (conflation replaces it with a newer one).
    mutating func removeLast() {
        bytes -= items.removeLast().count
    }

    /// Keeps only the frames of `kind` (the replies owed before a close).
    mutating func keepOnly(_ kind: Frame.Kind) {
        let kept = items[head...].filter { $0.kind == kind }
        removeAll()
        for frame in kept { append(frame) }
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
        bytes = 0
    }
}
