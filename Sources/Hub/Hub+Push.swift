import Auth
import CallState
import Store

/// Where a session stands in its push phase (PROTOCOL.md §10).
struct PushPhase {
    /// The phase began once: a call that rings again is not pushed again.
    var started = false
    /// One timeline entry per attempt (`{"push":{platform, deviceId, outcome}}`),
    /// merged into `GET /timeline` by time; bounded like the timeline.
    var entries: [JSONValue] = []
}

/// Ringing the callee's phone when no app of theirs watches the call
/// (PROTOCOL.md §10, docs/push.md): the push phase starts when a session
/// with a `calleeSub` enters `ringing` or `queued` and no WebSocket of that
/// `sub` is subscribed; it ends when the callee subscribes, reports
/// `deviceStatus: ready`, or the call moves on; `push.ringTimeoutSec` later
/// a call still ringing becomes `no_answer` through a journaled input.
extension Hub {
    static let pushServices = ["apns", "fcm", "expo"]
    static let pushOutcomes = ["sent", "unregistered", "failed"]

    static func describePushMetrics(_ m: Metrics) {
        m.describe("switchboard_push_total", type: "counter", "push attempts by service (apns, fcm, expo) and outcome")
        for platform in pushServices {
            for outcome in pushOutcomes { _ = m.counter("switchboard_push_total", [("platform", platform), ("outcome", outcome)]) }
        }
    }

    /// The stored registry, at start (before the journal writer owns the
    /// store), after `restore`. A call restored while still ringing for a
    /// callee was pushed before the restart: it is not pushed again, and its
    /// ring timeout runs from its last change (at least a second from now).
    public func restoreDevices(_ stored: [Device], now: Int64 = WallClock.nowMs()) {
        push.load(stored)
        for (id, channel) in sessions {
            let state = channel.engine.currentCallState
            guard state == .ringing || state == .queued, channel.engine.winner(.calleeSub)?.value.stringValue != nil else { continue }
            channel.pushPhase.started = true
            let since = channel.engine.lastSyncAt ?? now
            push.ringing[id] = max(since + Int64(config.push.ringTimeoutSec) * 1000, now + 1000)
        }
    }

    // MARK: The phase

    /// After an applied change: starts or ends the push phase.
    func pushAfterApply(_ outcome: ApplyOutcome, on channel: SessionChannel, now: Int64) {
        let sessionId = channel.engine.sessionId
        let state = channel.engine.currentCallState
        let ringingNow = state == .ringing || state == .queued
        if push.ringing[sessionId] != nil {
            if !ringingNow {
                push.ringing[sessionId] = nil
            } else if outcome.changed.contains("deviceStatus"), channel.engine.winner(.deviceStatus)?.value == "ready" {
                // The callee's app is up and will ring by itself.
                push.ringing[sessionId] = nil
            }
            return
        }
        // The callee's register, not the whole document: this runs for every
        // change of a ringing call that has not been pushed yet.
        guard ringingNow, !channel.pushPhase.started, let callee = channel.engine.winner(.calleeSub)?.value.stringValue,
              !callee.isEmpty, channel.presence.watchers[callee] == nil else { return }
        let doc = channel.engine.document
        channel.pushPhase.started = true
        push.ringing[sessionId] = now + Int64(config.push.ringTimeoutSec) * 1000
        let data = pushPayload(doc, callee: callee, now: now)
        let devices = push.devices(of: callee)
        logger.info("push phase started", metadata: ["session": "\(sessionId)", "devices": "\(devices.count)"])
        for skipped in push.push(sessionId: sessionId, to: devices, data: data, nowMs: now) { recordPush(skipped, now: now) }
        var needed = data.objectValue ?? [:]
        needed["calleeSub"] = .string(callee)
        needed["devices"] = .array(devices.map { Hub.deviceJSON($0, fullTokens: false, withTokens: false) })
        emitOutbound(type: "push.needed", sessionId: sessionId, data: .object(needed),
                     origin: "push.needed:\(channel.engine.epoch)", now: now)
    }

    /// A subscription of the callee ends the phase: the app is watching.
    func pushSubscribed(_ channel: SessionChannel, sub: String) {
        let sessionId = channel.engine.sessionId
        guard push.ringing[sessionId] != nil, channel.engine.winner(.calleeSub)?.value.stringValue == sub else { return }
        push.ringing[sessionId] = nil
    }

    /// `{type:"incoming_call", sessionId, callId, callUUID, from, token}`:
    /// the token lets the woken app subscribe and report before it has
    /// talked to its own backend.
    func pushPayload(_ doc: CallDocument, callee: String, now: Int64) -> JSONValue {
        var token: JSONValue = .null
        if let secret = config.auth.hs256Secret {
            let ttl = Int64(min(config.push.tokenTtlSec, config.auth.maxTtlSec))
            let claims = Claims(sub: callee, sid: doc.sessionId, role: .client, exp: now / 1000 + ttl, iat: now / 1000,
                                aud: config.auth.audience)
            token = .string(TokenMinter.hs256(claims, secret: Array(secret.utf8)))
        }
        func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        return [
            "type": "incoming_call", "sessionId": .string(doc.sessionId), "callId": text(doc.callId),
            "callUUID": text(doc.callUUID), "from": text(doc.from), "token": token,
        ]
    }

    // MARK: Results and the ring timeout

    /// On every wake-up and tick: finished device writes, push answers, and
    /// ring deadlines that passed.
    func runPush(now: Int64) {
        if let journal, !push.pendingWrites.isEmpty || push.removalsInFlight > 0 { finishDeviceWrites(journal) }
        if push.awaitingAnswers {
            for result in push.takeResults(nowMs: now) { recordPush(result, now: now) }
        }
        guard !push.ringing.isEmpty else { return }
        for (sessionId, deadline) in push.ringing where deadline <= now {
            push.ringing[sessionId] = nil
            guard let channel = sessions[sessionId],
                  channel.engine.currentCallState == .ringing || channel.engine.currentCallState == .queued else { continue }
            // In a cluster every node runs the phase; the lease holder alone
            // sends the timeout's input, so it enters the log once.
            if let cluster, !cluster.log.isLeader { continue }
            ringTimedOut(channel, now: now)
        }
    }

    /// Answers the registry writes the journal finished.
    func finishDeviceWrites(_ journal: JournalWriter) {
        for done in journal.takeDeviceCompletions() {
            guard let pending = push.pendingWrites.removeValue(forKey: done.token) else {
                push.removalsInFlight -= 1
                if let error = done.error { logger.error("device registry write failed", metadata: ["error": "\(error.message)"]) }
                continue
            }
            if let error = done.error {
                logger.error("device registry write failed", metadata: ["error": "\(error.message)"])
                pending.respond(.failure(error))
            } else {
                push.apply(pending.write)
                pending.respond(.success(()))
            }
        }
    }

    /// `callState: no_answer` from source `hub` (sourceKind backend), as an
    /// input like any other: journaled, in the timeline, framed, replayed.
    func ringTimedOut(_ channel: SessionChannel, now: Int64) {
        let sessionId = channel.engine.sessionId
        let body: JSONValue = [
            "id": .string("ring-timeout:\(channel.engine.epoch)"), "ts": .int(now),
            "state": ["callState": "no_answer"],
        ]
        do {
            let decoded = try InputDecoder.report(body, identity: ClientIdentity(sub: "hub", role: .admin), receivedAt: now,
                                                  kind: "hub.ring_timeout", sourceKind: .backend, source: "hub")
            try accept(decoded, to: sessionId, now: now) { [logger] result in
                if case .failure(let error) = result {
                    logger.error("ring timeout not stored", metadata: ["session": "\(sessionId)", "error": "\(error.message)"])
                }
            }
            logger.info("ring timed out", metadata: ["session": "\(sessionId)"])
        } catch {
            logger.error("ring timeout refused", metadata: ["session": "\(sessionId)", "error": "\(error.message)"])
        }
    }

    /// One attempt's outcome: metric, timeline entry, and for a dead token
    /// the device's removal (only if it still holds that token: the app may
    /// have registered a new one meanwhile).
    func recordPush(_ result: PushService.Result, now: Int64) {
        let attempt = result.attempt
        let service = attempt.service.rawValue
        metrics.increment("switchboard_push_total", [("platform", service), ("outcome", result.verdict.outcome)])
        var entry: [String: JSONValue] = ["platform": .string(service), "deviceId": .string(attempt.device.deviceId),
                                          "outcome": .string(result.verdict.outcome)]
        if case .failed(let why) = result.verdict { entry["error"] = .string(why) }
        if let channel = sessions[attempt.sessionId] {
            channel.pushPhase.entries.append([
                "at": .int(now), "kind": "hub.push", "source": "hub", "sourceKind": "backend",
                "version": .int(channel.engine.version), "push": .object(entry),
            ])
            let excess = channel.pushPhase.entries.count - config.retention.timelineEntries
            if excess > 0 { channel.pushPhase.entries.removeFirst(excess) }
        }
        // Tokens are credentials: the log names the device, never its token.
        logger.info("push attempt", metadata: [
            "session": "\(attempt.sessionId)", "deviceId": "\(attempt.device.deviceId)", "platform": "\(service)",
            "outcome": "\(result.verdict.outcome)",
        ])
        guard result.verdict == .unregistered,
              let device = push.devices(of: attempt.device.sub).first(where: { $0.deviceId == attempt.device.deviceId }),
              [device.voipPushToken, device.pushToken, device.expoPushToken].contains(attempt.deviceToken) else { return }
        let write = DeviceWrite(deletes: [attempt.device])
        push.apply(write)
        if let journal {
            push.removalsInFlight += 1
            journal.devices(write, token: 0)
        }
    }

    /// The session's timeline with its push attempts merged in by time.
    func timelineWithPush(_ entries: [JSONValue], _ channel: SessionChannel) -> [JSONValue] {
        guard !channel.pushPhase.entries.isEmpty else { return entries }
        var merged: [JSONValue] = []
        merged.reserveCapacity(entries.count + channel.pushPhase.entries.count)
        var pushes = channel.pushPhase.entries[...]
        for entry in entries {
            let at = entry["at"]?.intValue ?? 0
            while let next = pushes.first, (next["at"]?.intValue ?? 0) < at {
                merged.append(next)
                pushes = pushes.dropFirst()
            }
            merged.append(entry)
        }
        merged.append(contentsOf: pushes)
        return merged
    }
}
