import CallState
import Providers

/// One session as the reactor holds it: the merge engine's state, who is
/// subscribed, and the recent frames kept for resume (§3.2).
final class SessionChannel {
    var engine: CallSession
    /// Subscribers in subscription order, so fan-out order is deterministic.
    var subscribers: [ObjectIdentifier: Subscriber] = [:]
    var order: [ObjectIdentifier] = []
    var replay: ReplayLog<Frame>
    /// Who watches this session (§3.2 presence).
    var presence = Presence()
    /// Who is in the Agora channel, to turn joins and leaves into call states.
    var agora = AgoraChannelPresence()
    /// Quality warnings already announced by `quality.warning` webhooks.
    var announcedWarnings: [QualityWarning] = []
    /// Inputs of this session handed to the journal and not yet committed.
    var uncommitted = 0
    /// Inputs journaled since this session's last snapshot.
    var sinceSnapshot = 0
    /// When the last `quality` (or `state_change`, which carries quality) went out.
    var lastQualityFrameAt: Int64 = .min / 2
    /// Devices and push (§10, Hub+Push.swift).
    var pushPhase = PushPhase()

    init(engine: CallSession, replayFrames: Int) {
        self.engine = engine
        self.replay = ReplayLog(capacity: replayFrames)
    }

    func add(_ s: Subscriber) {
        let id = ObjectIdentifier(s)
        if subscribers.updateValue(s, forKey: id) == nil { order.append(id) }
    }

    func remove(_ s: Subscriber) {
        let id = ObjectIdentifier(s)
        if subscribers.removeValue(forKey: id) != nil { order.removeAll { $0 == id } }
    }

    /// Sends a frame that is not part of the versioned stream (presence): not
    /// recorded for resume, since it describes the present, not the document.
    func sendOutOfBand(_ frame: Frame) {
        for id in order { subscribers[id]?.deliver(frame) }
    }

    /// Hands one shared frame to every subscriber and records it for resume.
    func broadcast(_ frame: Frame) {
        replay.append(version: frame.version, element: frame)
        for id in order { subscribers[id]?.deliver(frame) }
    }
}
