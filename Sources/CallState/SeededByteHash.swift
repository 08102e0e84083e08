/// A fast keyed hash of UTF-8 bytes for the idempotency memory's table.
///
/// Why not `Hasher`: its SipHash costs about 300 instructions for a
/// `(source, eventId)` pair of short strings, a tenth of an apply. This reads
/// eight bytes at a time and folds each word with a 64×64→128-bit multiply
/// (the mixing step of wyhash-style hashes), about 30 instructions per pair.
///
/// The seed is drawn from the system generator once per process, like
/// `Hasher`'s, so a client cannot precompute ids that collide; and the table it
/// serves is per session and bounded by `merge.dedupeWindow`, so even a
/// collision flood costs one session a longer probe, never the hub. Values
/// mean nothing in another process: snapshots store keys, never hashes.
struct SeededByteHash {
    private static let seed = UInt64.random(in: .min ... .max)
    private static let k0: UInt64 = 0xa076_1d64_78bd_642f
    private static let k1: UInt64 = 0xe703_7ed1_a0b4_28db

    private var state: UInt64 = SeededByteHash.seed
    private var length: UInt64 = 0

    init() {}

    /// Folds in the UTF-8 bytes of `string`. Its length goes in with its last
    /// word, so `("ab","c")` and `("a","bc")` hash apart.
    mutating func combine(_ string: String) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { bytes in
            combine(UnsafeRawBufferPointer(bytes))
        }
        if done == nil {
            var contiguous = string
            contiguous.withUTF8 { combine(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Whole words, then the tail as one word read with overlapping loads
    /// (wyhash's trick: no per-byte loop); the length goes into the last word.
    private mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var offset = 0
        while offset + 8 <= count {
            combine(word: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        let rest = count - offset
        let tail: UInt64
        if rest >= 4 {
            tail = UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) << 32
                | UInt64(bytes.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
        } else if rest > 0 {
            tail = UInt64(bytes[offset]) << 16 | UInt64(bytes[offset + rest / 2]) << 8 | UInt64(bytes[count - 1])
        } else {
            tail = 0
        }
        combine(word: tail ^ (UInt64(truncatingIfNeeded: count) << 56))
    }

    private mutating func combine(word: UInt64) {
        state = SeededByteHash.mix(state ^ word, SeededByteHash.k0)
        length &+= 1
    }

    /// The hash of everything combined.
    func finalize() -> UInt64 {
        SeededByteHash.mix(state ^ length, SeededByteHash.k1 ^ SeededByteHash.seed)
    }

    /// Multiplies to 128 bits and folds the halves together.
    @inline(__always)
    private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }
}
