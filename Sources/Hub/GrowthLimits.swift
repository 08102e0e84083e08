import CallState
import JSONCodec

/// What one input may make a session grow to (`limits.maxMetadataKeys`,
/// `limits.maxMetadataValueBytes`, `limits.maxDocumentBytes`): an input past
/// any of them is refused whole (422 / `invalid_message`) before it is
/// journaled, so nothing of it is stored or applied.
///
/// The check is cheap in the common case: the document's encoded size is
/// tracked as an upper bound (the last exact size plus what every input since
/// could have added at most), and only when the bound says the limit might be
/// crossed is the exact answer computed, by applying the session's
/// uncommitted inputs and this one to a copy of its (pure, value-type) merge
/// engine and encoding the result.
struct GrowthLimits {
    let maxMetadataKeys: Int
    let maxMetadataValueBytes: Int
    let maxDocumentBytes: Int

    /// What an admitted input holds on its session until it is applied (or
    /// its commit fails): its new metadata keys and its growth bound.
    struct Reservation: Sendable {
        var sessionId: String
        /// Metadata keys the session did not hold when the input was admitted.
        var newKeys: [String]
        /// The most bytes the input can add to the encoded document.
        var growth: Int
    }

    /// Per session: what admitted, uncommitted inputs may add.
    struct Pending {
        /// New metadata keys of uncommitted inputs, with how many carry each.
        var keys: [String: Int] = [:]
        /// Sum of the growth bounds of uncommitted inputs.
        var growth = 0
        /// The last exact document size plus the growth bounds of the inputs
        /// applied since; nil until first measured.
        var documentBound: Int?
    }

    /// Bytes the encoded document can change by at most when an input of no
    /// content is applied: derived fields filling in (`answeredAt`, `endedAt`,
    /// `duration`, `logStatus`, …), `lastSync`, `version` digits.
    static let derivedSlack = 192
    /// The most a quality sample adds: the latest sample replaces the last.
    static let qualitySlack = 320

    /// The upper bound of what `input` can add to the encoded document:
    /// every update's value (and key, for metadata) as escaped JSON at most.
    static func growthBound(of input: Input) -> Int {
        var total = derivedSlack
        for update in input.updates {
            total += encodedBound(update.value)
            if case .metadata(let key) = update.field { total += encodedBound(key) + 2 }
        }
        if !input.quality.isEmpty { total += qualitySlack }
        return total
    }

    /// The most bytes `value` encodes to.
    static func encodedBound(_ value: JSONValue) -> Int {
        switch value {
        case .string(let s): return encodedBound(s)
        case .null, .bool: return 5
        case .int, .double: return 32
        default: return JSONCodec.encode(value).count
        }
    }

    /// The most bytes a string encodes to: quotes, two per escaped quote,
    /// backslash or slash, six per control byte or non-ASCII byte (a
    /// `\uXXXX` escape is never longer per byte).
    static func encodedBound(_ s: String) -> Int {
        var n = 2
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): n += 2
            case 0..<0x20, 0x80...: n += 6
            default: n += 1
            }
        }
        return n
    }

    /// The encoded size of a session's document (without presence).
    static func documentBytes(_ engine: CallSession) -> Int {
        JSONCodec.encode(engine.document.json).count
    }
}

extension Hub {
    /// Checks `input` against the growth limits for `sessionId` and reserves
    /// what it adds until `release` (after it is applied, or its commit
    /// failed). Throws `invalid_message` naming the limit; nothing is
    /// reserved then.
    func reserveGrowth(_ input: Input, to sessionId: String, now: Int64) throws(InputError) -> GrowthLimits.Reservation {
        let limits = growthLimits
        var pending = growthPending[sessionId] ?? GrowthLimits.Pending()
        let engine = sessions[sessionId]?.engine

        var newKeys: [String] = []
        var seen: Set<String> = []
        let held = (engine?.metadataKeyCount ?? 0) + pending.keys.count
        for update in input.updates {
            guard case .metadata(let key) = update.field else { continue }
            if case .string(let text) = update.value, text.utf8.count > limits.maxMetadataValueBytes {
                throw .invalid("metadata.\(key) is \(text.utf8.count) bytes, over limits.maxMetadataValueBytes (\(limits.maxMetadataValueBytes))")
            }
            if engine?.holdsMetadataKey(key) == true || pending.keys[key] != nil || !seen.insert(key).inserted { continue }
            newKeys.append(key)
            // Stops at the first key too many: an input of 50,000 keys costs no more to refuse than one of 65.
            if held + newKeys.count > limits.maxMetadataKeys {
                throw .invalid("the input adds metadata keys past limits.maxMetadataKeys (\(limits.maxMetadataKeys)); the session holds \(held)")
            }
        }

        let growth = GrowthLimits.growthBound(of: input)
        if growth > limits.maxDocumentBytes {
            // Even if most of it were stale, the timeline would keep it all.
            throw .invalid("the input carries up to \(growth) bytes, over limits.maxDocumentBytes (\(limits.maxDocumentBytes))")
        }
        let base = engine ?? CallSession(sessionId: sessionId, epoch: "", config: mergeConfig)
        if pending.documentBound == nil { pending.documentBound = GrowthLimits.documentBytes(base) }
        if pending.documentBound! + pending.growth + growth > limits.maxDocumentBytes {
            pending.documentBound = GrowthLimits.documentBytes(base)
            if pending.documentBound! + pending.growth + growth > limits.maxDocumentBytes {
                let exact = documentBytesAfter(input, base: base, sessionId: sessionId, now: now)
                if exact > limits.maxDocumentBytes {
                    keep(pending, for: sessionId)
                    throw .invalid("the document would be \(exact) bytes, over limits.maxDocumentBytes (\(limits.maxDocumentBytes))")
                }
            }
        }
        for key in newKeys { pending.keys[key, default: 0] += 1 }
        pending.growth += growth
        keep(pending, for: sessionId)
        return GrowthLimits.Reservation(sessionId: sessionId, newKeys: newKeys, growth: growth)
    }

    /// Gives back what `reservation` held; `applied` when its input reached
    /// the engine (the document bound grows by its growth bound).
    func releaseGrowth(_ reservation: GrowthLimits.Reservation, applied: Bool) {
        guard var pending = growthPending[reservation.sessionId] else { return }
        for key in reservation.newKeys {
            if let n = pending.keys[key], n > 1 { pending.keys[key] = n - 1 } else { pending.keys[key] = nil }
        }
        pending.growth -= reservation.growth
        if applied, let bound = pending.documentBound { pending.documentBound = bound + reservation.growth }
        keep(pending, for: reservation.sessionId)
    }

    /// Stores a session's pending state; forgets it for a session the hub
    /// does not hold with nothing pending (a refused input to a new id must
    /// leave nothing behind).
    private func keep(_ pending: GrowthLimits.Pending, for sessionId: String) {
        if sessions[sessionId] == nil, pending.keys.isEmpty, pending.growth == 0 {
            growthPending[sessionId] = nil
        } else {
            growthPending[sessionId] = pending
        }
    }

    /// The exact encoded document after the session's uncommitted inputs and
    /// `input`, computed on a copy of its engine (the slow path, near the limit).
    private func documentBytesAfter(_ input: Input, base: CallSession, sessionId: String, now: Int64) -> Int {
        var copy = base
        for token in pendingInputs.keys.sorted() {
            guard let waiting = pendingInputs[token], waiting.sessionId == sessionId else { continue }
            _ = copy.apply(waiting.decoded.input, now: waiting.decoded.input.receivedAt)
        }
        var candidate = input
        candidate.receivedAt = now
        _ = copy.apply(candidate, now: now)
        return GrowthLimits.documentBytes(copy)
    }
}
