/// One last-writer-wins register: the winning update of a field, with its
/// `callState` value parsed once so comparisons parse nothing.
///
/// Registers are stored non-optional (an unset one has `isSet == false`) so
/// the merge can compare and replace them in place through `inout`, without
/// copying the winner out first.
struct FieldRegister: Sendable, Codable {
    /// The winner, exactly as merged (clamped `ts` included): replaying it
    /// reproduces the register.
    var update: Update
    /// The parsed value when the field is `callState`.
    var state: CallStateValue?
    /// False for a register no update has reached yet.
    var isSet: Bool

    init(update: Update, state: CallStateValue?) {
        self.update = update
        self.state = state
        self.isSet = true
    }

    /// A register no update has reached.
    static let unset: FieldRegister = {
        var register = FieldRegister(
            update: Update(field: .callId, value: .null, ts: .min, source: "", sourceKind: .client), state: nil)
        register.isSet = false
        return register
    }()

    /// Rules 1-5 of the merge key. Derived on demand rather than stored: every
    /// part is a field of `update` or `state` already, and a smaller register
    /// means fewer cache lines per merge.
    var key: MergeKey { MergeKey(update, state: state) }

    /// The winner, nil while unset.
    var winner: Update? { isSet ? update : nil }

    /// The §2.2 comparison with another register of the same field.
    func compare(with other: FieldRegister) -> MergeOrder.Comparison {
        MergeOrder.compare(update, key, other.update, other.key)
    }
}
