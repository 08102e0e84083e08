import CallState
import Store

/// Durability (PROTOCOL.md §7): an input is applied and acknowledged only
/// after its journal commit. The commit happens on the journal's own thread
/// (group commit); the reactor hears about it through the transport's wake-up
/// and applies results in commit order, which is submission order.
extension Hub {
    /// How an input's result gets back to whoever sent it: an `ack` frame,
    /// an HTTP response. Called on the reactor thread, exactly once.
    public typealias Completion = (Result<InputOutcome, StoreError>) -> Void

    /// 503 for a write the journal could not store: nothing was applied.
    static let storeUnavailable = HTTPResponse.error(503, "store_unavailable", "could not store the input; retry",
                                                     headers: [("Retry-After", "1")])

    /// 503 for a write (or a new upgrade) while the hub drains on SIGTERM.
    public static let drainingResponse = HTTPResponse.error(503, "draining", "hub is shutting down", headers: [("Retry-After", "5")])

    struct PendingInput {
        let sessionId: String
        let decoded: DecodedInput
        let reservation: GrowthLimits.Reservation
        let completion: Completion
    }

    /// Accepts a validated input: checks it against the growth limits
    /// (`GrowthLimits`: throws `invalid_message`, nothing stored), journals it
    /// (when a journal is configured), then applies it and calls `then`.
    /// Without a journal (`store.kind` memory) it applies at once.
    public func accept(_ decoded: DecodedInput, to sessionId: String, now: Int64 = WallClock.nowMs(),
                       then completion: @escaping Completion) throws(InputError) {
        let reservation = try reserveGrowth(decoded.input, to: sessionId, now: now)
        accept(decoded, to: sessionId, reserved: reservation, now: now, then: completion)
    }

    /// `accept` for an input whose growth is already reserved (a webhook
    /// reserves every event first, so it is refused whole or not at all).
    func accept(_ decoded: DecodedInput, to sessionId: String, reserved reservation: GrowthLimits.Reservation,
                now: Int64, then completion: @escaping Completion) {
        var decoded = decoded
        decoded.input.receivedAt = now
        if let cluster {
            acceptClustered(decoded, to: sessionId, reservation: reservation, cluster: cluster, completion: completion)
            return
        }
        guard let journal else {
            let outcome = submit(decoded, to: sessionId, now: now)
            releaseGrowth(reservation, applied: true)
            completion(.success(outcome))
            return
        }
        let channel = channel(sessionId)
        channel.uncommitted += 1
        let epoch = channel.engine.epoch
        nextJournalToken += 1
        pendingInputs[nextJournalToken] = PendingInput(sessionId: sessionId, decoded: decoded,
                                                       reservation: reservation, completion: completion)
        journal.submit(JournalEntry(sessionId: sessionId, epoch: epoch, input: decoded.input), token: nextJournalToken)
    }

    /// Applies what the journal committed since the last call (on wake-up).
    public func processCommitted() {
        processHistory()  // the archive thread's answers share this wake-up
        // Outbox first (its stored rows are read before later commits apply),
        // and the rows those commits' events add go to the writer at the end.
        if outbound != nil { outboundBeforeCommits(now: WallClock.nowMs()) }
        defer { if outbound != nil { flushOutbound() } }
        if let cluster { processCluster(cluster) }
        runPush(now: WallClock.nowMs())
        guard let journal else { return }
        for done in journal.takeCompleted() {
            guard let pending = pendingInputs.removeValue(forKey: done.token) else { continue }
            let channel = sessions[done.entry.sessionId]
            channel?.uncommitted -= 1
            if let error = done.error {
                storeHealthy = false
                logger.error("journal commit failed", metadata: ["error": "\(error.message)"])
                releaseGrowth(pending.reservation, applied: false)
                pending.completion(.failure(error))
                continue
            }
            storeHealthy = true
            let outcome = submit(pending.decoded, to: done.entry.sessionId, now: done.entry.input.receivedAt)
            releaseGrowth(pending.reservation, applied: true)
            pending.completion(.success(outcome))
            if let channel { snapshotIfDue(channel, journal: journal) }
        }
        for seconds in journal.takeCommitSeconds() {
            metrics.observe("switchboard_journal_commit_seconds", seconds,
                            bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
        }
        for error in journal.takeMaintenanceErrors() {
            logger.error("journal compaction failed", metadata: ["error": "\(error.message)"])
        }
    }

    /// Every `store.snapshotEvery` inputs, and only while none of the
    /// session's inputs wait for a commit, its entries are replaced by a
    /// snapshot of its engine state: the snapshot then covers exactly what
    /// is stored, and a restart replays at most `snapshotEvery` inputs.
    func snapshotIfDue(_ channel: SessionChannel, journal: JournalWriter) {
        channel.sinceSnapshot += 1
        guard channel.sinceSnapshot >= config.store.snapshotEvery, channel.uncommitted == 0 else { return }
        channel.sinceSnapshot = 0
        journal.snapshot(SessionSnapshot(channel.engine))
    }

    /// Rebuilds every session from the journal at start: snapshots first,
    /// then the entries after them, re-applied with the hub time they arrived
    /// at; same epochs, same versions, and the frames since the snapshot for
    /// resume.
    public func restore(snapshots: [SessionSnapshot], entries: [JournalEntry]) throws(StoreError) {
        for snapshot in snapshots { try restoreSnapshot(snapshot) }
        for entry in entries {
            let channel = sessions[entry.sessionId] ?? createChannel(entry.sessionId, epoch: entry.epoch)
            let outcome = channel.engine.apply(entry.input, now: entry.input.receivedAt)
            recordQuality(entry.input, outcome, on: channel)
            channel.sinceSnapshot += 1
            if outcome.stateChanged {
                channel.replay.append(version: channel.engine.version, element: frames.stateChange(channel.engine, outcome))
            }
            // Events of inputs committed before a crash and never stored in
            // the outbox are made again here; the outbox load keeps the new ones.
            if outbound != nil {
                outboundApplied(outcome, on: channel, origin: { InputCodec.encode(entry.input) }, now: entry.input.receivedAt)
            }
        }
        for channel in sessions.values { markForArchive(channel) }  // re-archived: the last run may have stopped before it was
        indexProviderCallIds()
    }

    /// A session as its snapshot left it, in memory, with an empty replay
    /// window starting at its version (journal and cluster restores).
    func restoreSnapshot(_ snapshot: SessionSnapshot) throws(StoreError) {
        let channel = SessionChannel(engine: try snapshot.session(), replayFrames: config.retention.replayFrames)
        channel.replay = ReplayLog(capacity: config.retention.replayFrames, startVersion: channel.engine.version)
        channel.announcedWarnings = channel.engine.quality.warnings
        sessions[snapshot.sessionId] = channel
    }

    /// Provider call ids (CallSid, conversation_id, …) → session, for every
    /// session in memory: after a restore, so webhooks find their sessions.
    func indexProviderCallIds() {
        for channel in sessions.values { indexProviderCallIds(channel) }
    }

    /// Indexes one session's provider call ids, read from their registers
    /// (no document is built: a cluster node does this per applied input).
    func indexProviderCallIds(_ channel: SessionChannel) {
        for field in [Field.providerCallId, .twilioCallSid] {
            if let callId = channel.engine.winner(field)?.value.stringValue {
                sessionsByProviderCallId[callId] = channel.engine.sessionId
            }
        }
    }

    /// Drops ended sessions `retention.endedSec` after `endedAt` from memory
    /// and the journal.
    func enforceRetention(now: Int64) {
        if let cluster { return proposeClusterDrops(cluster, now: now) }
        let keepMs = Int64(config.retention.endedSec) * 1000
        var expired: [String] = []
        // Not while anyone watches, nor while one of its inputs awaits its
        // commit (applying it would recreate the session under a new epoch),
        // nor before its last change is in the call archive (§12).
        for (id, channel) in sessions where channel.order.isEmpty && channel.uncommitted == 0 {
            guard let endedAt = channel.engine.endedAt, now - endedAt >= keepMs,
                  channel.engine.lastSyncAt.map({ now - $0 >= keepMs }) ?? true else { continue }
            guard isArchived(channel) else { markForArchive(channel); continue }  // kept until it is
            expired.append(id)
        }
        guard !expired.isEmpty else { return }
        let gone = Set(expired)
        for id in expired {
            history.archivedVersion[id] = nil
            sessions[id] = nil
            qualityPending.remove(id)
            growthPending[id] = nil
        }
        sessionsByProviderCallId = sessionsByProviderCallId.filter { !gone.contains($0.value) }
        journal?.drop(sessions: expired)
        outbound?.pendingWrite.forgetDelivered += expired
        logger.info("retention dropped sessions", metadata: ["count": "\(expired.count)"])
    }
}
