/// The merge rule of PROTOCOL.md §2.2 and the conflict rule of §2.4, in one place.
///
/// Every field is a last-writer-wins register. Of two updates to the same field
/// the winner is the one with the greater key, compared left to right:
///
/// 1. `terminal`: for `callState` only, 1 if the value is terminal, else 0
///    (a call that has ended stays ended, whatever arrives later);
/// 2. `ts`;
/// 3. `lifecycleRank(value)`: for `callState` only (at equal `ts` the more
///    advanced state wins; Twilio's 1 s timestamps tie often);
/// 4. source rank: provider 2 > backend 1 > client 0;
/// 5. `seq`;
/// 6. `source`, by UTF-8 bytes;
/// 7. the value's canonical JSON text (`JSONValue.canonicalText`), by UTF-8 bytes.
///
/// This is a total order on distinct updates of one field (two updates equal on
/// all seven are the same observation), so the merged document is a pure
/// function of the set of updates: arrival order and duplication do not matter.
/// `eventId` is deliberately not part of the key.
///
/// Conflicts (§2.4), decided by `conflictRule(winner:loser:decidedBy:windowMs:)`:
/// a loser that disagrees with the winner is a conflict when it lost for a
/// reason other than being older:
/// - `terminal`: it lost to a terminal state although it is not older;
/// - `tie`: equal `ts`, decided by lifecycle rank, source rank, source or value
///   (not by `seq`: the source itself ordered those two, nothing disagrees);
/// - `concurrent`: decided by `ts`, the two come from different `sourceKind`s and
///   lie less than `merge.conflictWindowMs` apart.
/// The rule is symmetric in arrival order: the same pair is a conflict whether
/// the winner or the loser arrived first.
public enum MergeOrder {
    /// The rule of §2.2 that separated two updates.
    public enum Rule: Int, Sendable, Hashable {
        case terminal = 1, timestamp, lifecycleRank, sourceRank, seq, source, value
        /// The two updates are equal on every rule: the same observation.
        case none
    }

    /// The result of comparing two updates of one field.
    public struct Comparison: Sendable, Hashable {
        /// -1 if the first update loses, 0 if equal, 1 if it wins.
        public var order: Int
        /// The first rule on which they differ.
        public var rule: Rule
    }

    /// Compares two updates of the same field by the merge key of §2.2.
    public static func compare(_ a: Update, _ b: Update) -> Comparison {
        compare(a, MergeKey(a), b, MergeKey(b))
    }

    /// Whether `a` wins over `b` (strictly greater key).
    public static func wins(_ a: Update, over b: Update) -> Bool {
        compare(a, b).order > 0
    }

    /// The comparison on precomputed keys: rules 1-5 are integers, and rules 6-7
    /// (strings, canonical text) run only when those tie, so the common case
    /// allocates nothing.
    static func compare(_ a: Update, _ ak: MergeKey, _ b: Update, _ bk: MergeKey) -> Comparison {
        if ak.terminal != bk.terminal { return Comparison(order: ak.terminal ? 1 : -1, rule: .terminal) }
        if ak.ts != bk.ts { return Comparison(order: ak.ts > bk.ts ? 1 : -1, rule: .timestamp) }
        if ak.lifecycleRank != bk.lifecycleRank {
            return Comparison(order: ak.lifecycleRank > bk.lifecycleRank ? 1 : -1, rule: .lifecycleRank)
        }
        if ak.sourceRank != bk.sourceRank {
            return Comparison(order: ak.sourceRank > bk.sourceRank ? 1 : -1, rule: .sourceRank)
        }
        if ak.seq != bk.seq { return Comparison(order: ak.seq > bk.seq ? 1 : -1, rule: .seq) }
        if a.source != b.source {
            return Comparison(order: b.source.precedesByUTF8(a.source) ? 1 : -1, rule: .source)
        }
        if a.value != b.value {
            let at = a.value.canonicalText, bt = b.value.canonicalText
            if at != bt {
                return Comparison(order: bt.precedesByUTF8(at) ? 1 : -1, rule: .value)
            }
        }
        return Comparison(order: 0, rule: .none)
    }

    /// The conflict rule (§2.4) for a pair already ordered: `winner` beat `loser`
    /// on `decidedBy`. Nil when the pair is no conflict (they agree, or the loser
    /// is simply older).
    static func conflictRule(winner: Update, loser: Update, decidedBy rule: Rule,
                             windowMs: Int64) -> ConflictRule? {
        guard !winner.value.sameJSON(as: loser.value) else { return nil }
        switch rule {
        case .terminal:
            // An older non-terminal state losing to the end is not news.
            return loser.ts >= winner.ts ? .terminal : nil
        case .timestamp:
            let concurrent = winner.sourceKind != loser.sourceKind
                && winner.ts.saturatingSubtract(loser.ts) < windowMs
            return concurrent ? .concurrent : nil
        case .lifecycleRank, .sourceRank, .source, .value:
            return .tie
        case .seq, .none:
            return nil
        }
    }
}

/// Rules 1-5 of the merge key as integers, computed once per update so the hot
/// comparison parses no strings.
struct MergeKey: Sendable, Codable {
    var terminal: Bool
    var ts: Int64
    var lifecycleRank: Int8
    var sourceRank: Int8
    var seq: Int64

    init(_ u: Update) {
        if u.field == .callState, let state = u.value.stringValue.flatMap(CallStateValue.parse) {
            self.init(u, state: state)
        } else {
            self.init(u, state: nil)
        }
    }

    /// - Parameter state: the parsed `callState` value, nil for other fields.
    init(_ u: Update, state: CallStateValue?) {
        terminal = state?.isTerminal ?? false
        ts = u.ts
        lifecycleRank = Int8(state?.lifecycleRank ?? 0)
        sourceRank = Int8(u.sourceKind.rank)
        seq = u.seq
    }
}
