/// The bounded set of `(source, eventId)` pairs a session has applied (§2.3).
///
/// FIFO eviction keeps memory flat on long calls; forgetting is safe because
/// merging the same update again cannot change the document.
struct DedupeMemory: Sendable {
    struct Key: Hashable, Sendable {
        var source: String
        var eventId: String
    }

    private var keys: Set<Key> = []
    private var order: BoundedRing<Key>

    init(capacity: Int) {
        order = BoundedRing(capacity: capacity)
    }

    func contains(source: String, eventId: String) -> Bool {
        keys.contains(Key(source: source, eventId: eventId))
    }

    mutating func remember(source: String, eventId: String) {
        guard order.capacity > 0 else { return }
        let key = Key(source: source, eventId: eventId)
        guard keys.insert(key).inserted else { return }
        if let evicted = order.append(key) { keys.remove(evicted) }
    }
}
