/// One last-writer-wins register: the winning update of a field, with its
/// merge key precomputed so comparisons parse nothing.
struct FieldRegister: Sendable {
    /// The winner, exactly as merged (clamped `ts` included): replaying it
    /// reproduces the register.
    var update: Update
    var key: MergeKey
    /// The parsed value when the field is `callState`.
    var state: CallStateValue?

    init(update: Update, state: CallStateValue?) {
        self.update = update
        self.key = MergeKey(update, state: state)
        self.state = state
    }

    /// The §2.2 comparison with another register of the same field.
    func compare(with other: FieldRegister) -> MergeOrder.Comparison {
        MergeOrder.compare(update, key, other.update, other.key)
    }
}
