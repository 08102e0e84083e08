import CallState

/// Who is in one Agora channel: the state the hub keeps per session so that
/// joins and leaves become `connected` and `ended` (PROTOCOL §1.1: join →
/// connected when it is the 2nd user, leave → ended when the last user leaves).
///
/// Per user, the event with the highest `clientSeq` wins, so a join and a
/// leave of the same user that arrive out of order, or twice, still leave
/// the right answer. A pure value: keep one per session (or per channel) on
/// the reactor thread and drop it with the session.
public struct AgoraChannelPresence: Sendable, Hashable {
    private var latest: [String: (joined: Bool, clientSeq: Int64)] = [:]

    public init() {}

    /// Users whose latest event is a join.
    public var activeUsers: Int { latest.values.reduce(0) { $0 + ($1.joined ? 1 : 0) } }

    /// Records one join or leave.
    /// - Returns: `connected` when this join brings the channel to two users,
    ///   `ended` when this leave empties it, else nil (also for stale or
    ///   duplicate events: `clientSeq` not above the user's last one).
    public mutating func apply(_ presence: AgoraPresence) -> CallStateValue? {
        if let last = latest[presence.uid], last.clientSeq >= presence.clientSeq { return nil }
        let before = activeUsers
        latest[presence.uid] = (presence.joined, presence.clientSeq)
        let after = activeUsers
        if presence.joined && before < 2 && after >= 2 { return .connected }
        if !presence.joined && before > 0 && after == 0 { return .ended }
        return nil
    }

    /// Applies the event's presence hint, if any, and appends the resulting
    /// `callState` update to its input, stamped like the event's other
    /// updates (ts, seq = clientSeq, eventId = noticeId).
    public mutating func resolve(_ event: inout ProviderEvent) {
        guard let presence = event.agoraPresence, let state = apply(presence) else { return }
        event.input.updates.append(Update(
            field: .callState, value: .string(state.rawValue), ts: presence.ts,
            source: event.input.source, sourceKind: event.input.sourceKind,
            seq: presence.clientSeq, eventId: event.input.eventId))
    }

    public static func == (lhs: AgoraChannelPresence, rhs: AgoraChannelPresence) -> Bool {
        lhs.latest.count == rhs.latest.count && lhs.latest.allSatisfy { key, value in
            rhs.latest[key].map { $0.joined == value.joined && $0.clientSeq == value.clientSeq } ?? false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(activeUsers)
    }
}
