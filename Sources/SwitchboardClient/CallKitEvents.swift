import CallState

/// CallKit / CallKeep event names → `callState` (PROTOCOL.md §1.1).
///
/// Covers CallKit's actions and provider calls (`answer` for
/// `CXAnswerCallAction`, `end` for `CXEndCallAction`, `hold`/`unhold` for
/// `CXSetHeldCallAction`, `start` for `CXStartCallAction`,
/// `startedConnecting` / `connected` for `reportOutgoingCall(…)`,
/// `incoming` for `reportNewIncomingCall`), react-native-callkeep's
/// listener names (`answerCall`, `endCall`, `didReceiveStartCallAction`,
/// `didDisplayIncomingCall`), and falls back to the hub's client event
/// vocabulary (`accept`, `reject`, `cancel`, `reconnected`, …) and the
/// `callState` values themselves.
public enum CallKitEvents {
    /// The names this table adds on top of `ClientEvent`.
    public static let table: [String: CallStateValue] = [
        "answer": .connected, "answerCall": .connected, "connected": .connected, "unhold": .connected,
        "end": .ended, "endCall": .ended, "ended": .ended, "disconnect": .ended,
        "hold": .onHold, "held": .onHold,
        "decline": .declined, "reject": .declined,
        "start": .initiated, "startCall": .initiated, "didReceiveStartCallAction": .initiated,
        "startedConnecting": .connecting,
        "incoming": .ringing, "reportNewIncomingCall": .ringing, "didDisplayIncomingCall": .ringing,
        "remoteEnded": .ended, "unanswered": .noAnswer, "failed": .failed,
    ]

    /// The `callState` a CallKit / CallKeep / client event name means, or nil.
    public static func callState(for event: String) -> CallStateValue? {
        table[event] ?? ClientEvent.callState(for: event)
    }
}
