/// The client event vocabulary of PROTOCOL.md §1.1 (the seed's `/sync` `event`).
public enum ClientEvent {
    /// Event names that are not `callState` values themselves.
    static let aliases: [String: CallStateValue] = [
        "accept": .connected,
        "open": .connected,
        "reconnected": .connected,
        "hold": .onHold,
        "unhold": .connected,
        "disconnected": .ended,
        "closed": .ended,
        "reject": .declined,
        "cancel": .canceled,
        "error": .failed,
    ]

    /// The `callState` an event name means: an alias of the table
    /// (`accept`/`open`/`reconnected`/`unhold` → connected, `hold` → on_hold,
    /// `disconnected`/`closed` → ended, `reject` → declined, `cancel` → canceled,
    /// `error` → failed) or a `callState` raw value itself (`initiated`,
    /// `connecting`, `ringing`, `connected`, `reconnecting`, `ended`, `declined`,
    /// `no_answer`, `busy`, `queued`, `on_hold`, …). Case-sensitive; nil for
    /// anything else.
    public static func callState(for event: String) -> CallStateValue? {
        CallStateValue(rawValue: event) ?? aliases[event]
    }
}
