/// The bounded set of `(source, eventId)` pairs a session has applied (§2.3).
///
/// FIFO eviction keeps memory flat on long calls; forgetting is safe because
/// merging the same update again cannot change the document.
///
/// Why not `Set` plus a ring: this runs once per input on the hot path, and a
/// `Set` of string pairs re-hashes every string each time it grows and needs a
/// second hash to evict. Here each pair is hashed once (with `SeededByteHash`,
/// keyed per process, so crafted ids cannot be made to collide) into an
/// open-addressing table (linear probing, backward-shift deletion) whose
/// buckets carry the hash with the pair's position in the FIFO, so probing and
/// growing never touch the pairs themselves.
///
/// Ids are compared and hashed as UTF-8 bytes, not as Unicode-equivalent
/// strings: an event id is an opaque token.
struct DedupeMemory: Sendable {
    struct Key: Equatable, Sendable, Codable {
        var source: String
        var eventId: String

        static func == (a: Key, b: Key) -> Bool {
            a.source.equalsByUTF8(b.source) && a.eventId.equalsByUTF8(b.eventId)
        }

        /// The table hash: the same bytes give the same value within a process.
        var tableHash: Int {
            var hasher = SeededByteHash()
            hasher.combine(source)
            hasher.combine(eventId)
            return Int(truncatingIfNeeded: hasher.finalize())
        }
    }

    /// The most pairs remembered.
    let capacity: Int
    /// Remembered pairs in arrival order, a ring once full.
    private var keys: [Key] = []
    /// Position of the oldest pair once the ring is full.
    private var head = 0
    /// Open-addressing table; a bucket packs the low 32 bits of the pair's
    /// hash (high half) and its position in `keys` plus one (low half), 0 when
    /// free. Keeping the hash in the bucket lets probes, growth and deletion
    /// work on the table alone; `keys` is read only to confirm a hash match.
    private var table: [UInt64] = []

    init(capacity: Int) {
        self.capacity = max(0, min(capacity, Int(Int32.max)))
    }

    func contains(source: String, eventId: String) -> Bool {
        let key = Key(source: source, eventId: eventId)
        return find(key, hash: key.tableHash) != nil
    }

    /// Remembers a pair; false if it was already remembered (a duplicate).
    @discardableResult
    mutating func remember(source: String, eventId: String) -> Bool {
        let key = Key(source: source, eventId: eventId)
        let hash = key.tableHash
        if find(key, hash: hash) != nil { return false }
        guard capacity > 0 else { return true }

        let position: Int
        if keys.count < capacity {
            if (keys.count + 1) * 2 > table.count { grow() }
            keys.append(key)
            position = keys.count - 1
        } else {
            // Full: forget the oldest and reuse its place in the ring.
            removeFromTable(position: head)
            keys[head] = key
            position = head
            head = head + 1 == capacity ? 0 : head + 1
        }
        insert(DedupeMemory.bucket(hash: UInt64(UInt(bitPattern: hash)), position: position))
        return true
    }

    private static func bucket(hash: UInt64, position: Int) -> UInt64 {
        (hash << 32) | UInt64(position + 1)
    }

    /// The table index a bucket value belongs at (its hash's home).
    private func home(of bucket: UInt64) -> Int {
        Int(truncatingIfNeeded: bucket >> 32) & (table.count - 1)
    }

    private mutating func insert(_ value: UInt64) {
        let mask = table.count - 1
        var index = home(of: value)
        while table[index] != 0 { index = (index + 1) & mask }
        table[index] = value
    }

    /// The table index holding `key`, if remembered.
    private func find(_ key: Key, hash: Int) -> Int? {
        guard !table.isEmpty else { return nil }
        let mask = table.count - 1
        let tag = UInt64(UInt32(truncatingIfNeeded: hash))
        var index = hash & mask
        while true {
            let value = table[index]
            if value == 0 { return nil }
            if value >> 32 == tag && keys[Int(truncatingIfNeeded: value & 0xFFFF_FFFF) - 1] == key { return index }
            index = (index + 1) & mask
        }
    }

    /// Doubles the table (power of two, at most half full), re-inserting the
    /// buckets by the hashes they carry.
    private mutating func grow() {
        let old = table
        table = Array(repeating: 0, count: max(16, table.count * 2))
        for value in old where value != 0 { insert(value) }
    }

    /// Removes the bucket pointing at `position`, shifting later entries of its
    /// probe run back so lookups never stop early at the hole.
    private mutating func removeFromTable(position: Int) {
        let mask = table.count - 1
        let target = UInt64(position + 1)
        // Only evictions get here (a full memory): hashing the old key again
        // is cheaper than keeping every hash beside its key.
        var hole = keys[position].tableHash & mask
        while table[hole] & 0xFFFF_FFFF != target { hole = (hole + 1) & mask }
        var next = hole
        while true {
            next = (next + 1) & mask
            let occupant = table[next]
            if occupant == 0 { break }
            let home = home(of: occupant)
            // Move the occupant into the hole unless its home lies cyclically
            // in (hole, next]: then it is already as close to home as it can be.
            let homeInRange = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !homeInRange {
                table[hole] = occupant
                hole = next
            }
        }
        table[hole] = 0
    }
}

/// A snapshot stores the remembered keys in ring order, never the table:
/// its hashes come from the process-seeded `SeededByteHash` and mean nothing in
/// another process. Decoding re-hashes every key.
extension DedupeMemory: Codable {
    private enum CodingKeys: String, CodingKey { case capacity, keys, head }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(capacity: try container.decode(Int.self, forKey: .capacity))
        keys = try container.decode([Key].self, forKey: .keys)
        head = try container.decode(Int.self, forKey: .head)
        var size = 16
        while size < keys.count * 2 { size *= 2 }
        table = Array(repeating: 0, count: size)
        for (position, key) in keys.enumerated() {
            insert(DedupeMemory.bucket(hash: UInt64(UInt(bitPattern: key.tableHash)), position: position))
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(capacity, forKey: .capacity)
        try container.encode(keys, forKey: .keys)
        try container.encode(head, forKey: .head)
    }
}
