/// One user joining or leaving an Agora channel, as an NCS event reported
/// it. The parser is stateless, so it cannot tell the 2nd join or the last
/// leave; the hub feeds these to the session's `AgoraChannelPresence`.
public struct AgoraPresence: Sendable, Hashable {
    /// The channel, also the event's `providerCallId`.
    public var channelName: String
    /// The user (`payload.uid`, as text).
    public var uid: String
    /// true for 103/107/111, false for 104/108/112.
    public var joined: Bool
    /// `payload.clientSeq`: Agora's per-user order of join/leave events.
    public var clientSeq: Int64
    /// `payload.ts` in ms.
    public var ts: Int64

    public init(channelName: String, uid: String, joined: Bool, clientSeq: Int64, ts: Int64) {
        self.channelName = channelName
        self.uid = uid
        self.joined = joined
        self.clientSeq = clientSeq
        self.ts = ts
    }
}
