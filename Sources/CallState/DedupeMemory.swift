/// The bounded set of `(source, eventId)` pairs a session has applied (§2.3).
///
/// FIFO eviction keeps memory flat on long calls; forgetting is safe because
/// merging the same update again cannot change the document.
///
/// Why not `Set` plus a ring: this runs once per input on the hot path, and a
/// `Set` of string pairs re-hashes every string each time it grows and needs a
/// second hash to evict. Here each pair is hashed once (with the standard
/// library's seeded `Hasher`, so crafted ids cannot force collisions), the hash
/// is kept beside the pair in the FIFO, and an open-addressing table of FIFO
/// positions (linear probing, backward-shift deletion) grows and evicts from
/// the stored hashes alone.
///
/// Ids are compared and hashed as UTF-8 bytes, not as Unicode-equivalent
/// strings: an event id is an opaque token, and byte hashing skips the
/// normalisation work of `String.hash(into:)`.
struct DedupeMemory: Sendable {
    struct Key: Hashable, Sendable {
        var source: String
        var eventId: String

        static func == (a: Key, b: Key) -> Bool {
            a.source.utf8.elementsEqual(b.source.utf8) && a.eventId.utf8.elementsEqual(b.eventId.utf8)
        }

        func hash(into hasher: inout Hasher) {
            Key.feed(source, into: &hasher)
            // A byte that never occurs in UTF-8 keeps ("ab","c") apart from ("a","bc").
            hasher.combine(UInt8(0xFF))
            Key.feed(eventId, into: &hasher)
        }

        private static func feed(_ string: String, into hasher: inout Hasher) {
            let done: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            if done == nil {
                for byte in string.utf8 { hasher.combine(byte) }
            }
        }
    }

    /// The most pairs remembered.
    let capacity: Int
    /// A remembered pair and its hash, side by side: one append per insert.
    private struct Entry: Sendable {
        var key: Key
        var hash: Int
    }

    /// Remembered pairs in arrival order, a ring once full.
    private var entries: [Entry] = []
    /// Position of the oldest pair once the ring is full.
    private var head = 0
    /// Open-addressing table of positions in `entries`; `empty` marks a free bucket.
    private var table: [Int32] = []
    private static let empty: Int32 = -1

    init(capacity: Int) {
        self.capacity = max(0, min(capacity, Int(Int32.max)))
    }

    func contains(source: String, eventId: String) -> Bool {
        let key = Key(source: source, eventId: eventId)
        return find(key, hash: key.hashValue) != nil
    }

    /// Remembers a pair; false if it was already remembered (a duplicate).
    @discardableResult
    mutating func remember(source: String, eventId: String) -> Bool {
        let key = Key(source: source, eventId: eventId)
        let hash = key.hashValue
        if find(key, hash: hash) != nil { return false }
        guard capacity > 0 else { return true }

        let position: Int
        if entries.count < capacity {
            if (entries.count + 1) * 2 > table.count { grow() }
            entries.append(Entry(key: key, hash: hash))
            position = entries.count - 1
        } else {
            // Full: forget the oldest and reuse its place in the ring.
            removeFromTable(position: head)
            entries[head] = Entry(key: key, hash: hash)
            position = head
            head = head + 1 == capacity ? 0 : head + 1
        }
        var bucket = hash & (table.count - 1)
        while table[bucket] != DedupeMemory.empty { bucket = (bucket + 1) & (table.count - 1) }
        table[bucket] = Int32(position)
        return true
    }

    /// The table bucket holding `key`, if remembered.
    private func find(_ key: Key, hash: Int) -> Int? {
        guard !table.isEmpty else { return nil }
        let mask = table.count - 1
        var bucket = hash & mask
        while true {
            let position = table[bucket]
            if position == DedupeMemory.empty { return nil }
            let p = Int(position)
            if entries[p].hash == hash && entries[p].key == key { return bucket }
            bucket = (bucket + 1) & mask
        }
    }

    /// Doubles the table (power of two, at most half full) and re-inserts the
    /// positions by their stored hashes.
    private mutating func grow() {
        let size = max(16, table.count * 2)
        table = Array(repeating: DedupeMemory.empty, count: size)
        let mask = size - 1
        for (position, entry) in entries.enumerated() {
            var bucket = entry.hash & mask
            while table[bucket] != DedupeMemory.empty { bucket = (bucket + 1) & mask }
            table[bucket] = Int32(position)
        }
    }

    /// Removes the bucket pointing at `position`, shifting later entries of its
    /// probe run back so lookups never stop early at the hole.
    private mutating func removeFromTable(position: Int) {
        let mask = table.count - 1
        var hole = entries[position].hash & mask
        while Int(table[hole]) != position { hole = (hole + 1) & mask }
        var next = hole
        while true {
            next = (next + 1) & mask
            let occupant = table[next]
            if occupant == DedupeMemory.empty { break }
            let home = entries[Int(occupant)].hash & mask
            // Move the occupant into the hole unless its home lies cyclically
            // in (hole, next]: then it is already as close to home as it can be.
            let homeInRange = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !homeInRange {
                table[hole] = occupant
                hole = next
            }
        }
        table[hole] = DedupeMemory.empty
    }
}
