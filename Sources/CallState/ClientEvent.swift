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

    /// Other spellings backends send for the same states.
    static let backendSpellings: [String: CallStateValue] = [
        "cancelled": .canceled, "no-answer": .noAnswer, "onhold": .onHold, "on-hold": .onHold,
    ]

    /// A state named by a backend (`state` of the generic webhook and of
    /// `POST /api/calls/{id}/events`): the event vocabulary above, or one of
    /// `backendSpellings`. One table, so one body means the same on both routes.
    public static func callState(backendName name: String) -> CallStateValue? {
        callState(for: name) ?? backendSpellings[name]
    }
}
