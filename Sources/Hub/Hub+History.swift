import CallState
import JSONCodec
import Store

/// The reactor's side of the call archive (PROTOCOL.md §12): what it hands
/// the archive thread and when. SQLite runs only on that thread
/// (`HistoryWriter`); reads are answered later, through `Hub.deliverResponse`.
final class HistoryState {
    var writer: HistoryWriter?
    /// Ended sessions whose document changed since they were last archived.
    var dirty: Set<String> = []
    /// Quality samples applied since the last hand-over (batched per timer tick).
    var samples: [QualityPoint] = []
    /// Reads waiting for the archive thread, by token.
    var waiting: [Int: (Result<HistoryWriter.Answer, StoreError>) -> Void] = [:]
    var nextToken = 0
    var lastPrune: Int64 = .min / 2
    /// The version each ended session was last committed to the archive at:
    /// retention drops a session only once its current version is archived.
    var archivedVersion: [String: Int64] = [:]
    /// `store.encryptionKey` is set: `q` then does not index phone numbers.
    var encrypted = false
}

extension Hub {
    /// Where the archive lives: `:memory:` with `store.kind` memory, else a
    /// sibling of the journal (`switchboard.db` → `switchboard-history.db`).
    /// With `store.kind` redis each node keeps its own archive there: every
    /// node applies every input, so every node archives every ended call.
    public static func historyPath(_ config: HubConfig) -> String {
        guard config.store.kind == "sqlite" || config.store.kind == "redis" else { return ":memory:" }
        var base = config.store.path ?? config.dataDir + "/switchboard.db"
        if base.hasSuffix(".db") { base.removeLast(3) }
        return base + "-history.db"
    }

    /// Opens the archive and starts its thread; its answers wake the loop
    /// with `wake` and are taken in `processCommitted`.
    /// - Throws: `StoreError` when the archive cannot be opened.
    public func openHistory(wake: @escaping @Sendable () -> Void) throws(StoreError) {
        let key = try config.store.encryptionKey.map { text throws(StoreError) in try SQLiteJournal.parseKey(text) }
        let archive = try HistoryArchive(path: Hub.historyPath(config), encryptionKey: key)
        history.encrypted = key != nil
        history.writer = HistoryWriter(archive: archive, wake: wake)
        metrics.describe("switchboard_history_archived_total", type: "counter",
                         "ended calls handed to the archive (again after each later change)")
        metrics.describe("switchboard_history_write_errors_total", type: "counter", "archive transactions that failed")
        for name in ["switchboard_history_archived_total", "switchboard_history_write_errors_total"] { _ = metrics.counter(name) }
    }

    /// Hands over what is pending and stops the archive thread (shutdown).
    public func closeHistory() {
        flushHistory()
        history.writer?.close()
        history.writer = nil
    }

    // MARK: - Recording

    /// Records the quality samples an applied input carried (every sample,
    /// scored as the engine scores it), with the warnings active after it.
    func recordQuality(_ input: Input, _ outcome: ApplyOutcome, on channel: SessionChannel) {
        guard !input.quality.isEmpty, outcome.qualityChanged, !outcome.duplicate else { return }
        let engine = channel.engine
        let warnings = engine.quality.warnings.map(\.rawValue)
        for (i, sample) in input.quality.enumerated() {
            let latency = sample.latency ?? sample.rtt.map { $0 / 2 }
            guard latency != nil || sample.jitter != nil || sample.packetLoss != nil || sample.mos != nil else { continue }
            var mos = sample.mos
            if mos == nil, let latency {
                mos = EModel.score(latency: latency, jitter: sample.jitter ?? 0, packetLoss: sample.packetLoss ?? 0).mos
            }
            // Several samples in one input share its version: the index keeps
            // them apart (and the same on replay).
            history.samples.append(QualityPoint(
                sessionId: engine.sessionId, epoch: engine.epoch, version: outcome.version * 64 + Int64(min(i, 63)),
                ts: sample.ts, mos: mos.map { ($0 * 1000).rounded() / 1000 }, latency: latency, jitter: sample.jitter,
                packetLoss: sample.packetLoss, warnings: warnings))
        }
    }

    /// Called for every change a session published: an ended session is
    /// (re-)archived at the next hand-over, so late changes (a recording
    /// callback, the last quality sample) reach the archive too.
    func markForArchive(_ channel: SessionChannel) {
        if channel.engine.endedAt != nil { history.dirty.insert(channel.engine.sessionId) }
    }

    /// Hands dirty sessions and buffered samples to the archive thread.
    /// Called every timer tick, before every read (so a read sees them), and
    /// before retention drops sessions.
    func flushHistory() {
        guard let writer = history.writer else { return }
        if !history.samples.isEmpty {
            writer.add(history.samples)
            history.samples.removeAll(keepingCapacity: true)
        }
        guard !history.dirty.isEmpty else { return }
        let encrypted = history.encrypted
        for id in history.dirty.sorted() {
            // A copy of the engine (a value; its timeline entries are immutable
            // and shared): the JSON is built on the archive thread.
            guard let engine = sessions[id]?.engine, engine.endedAt != nil else { continue }
            writer.put(sessionId: id, version: engine.version) { Hub.archivedCall(engine, encrypted: encrypted)! }
            metrics.increment("switchboard_history_archived_total")
        }
        history.dirty.removeAll()
    }

    /// Timer work: hand-over, and once a minute the `history.retentionDays`
    /// prune (an index range on `ended_at`: cheap when there is nothing to do).
    func runHistory(now: Int64) {
        flushHistory()
        guard let writer = history.writer, now - history.lastPrune >= 60_000 else { return }
        history.lastPrune = now
        writer.prune(before: now - Int64(config.history.retentionDays) * 86_400_000)
    }

    /// Delivers the archive thread's answers (on the loop's wake-up).
    func processHistory() {
        guard let writer = history.writer else { return }
        for error in writer.takeErrors() {
            metrics.increment("switchboard_history_write_errors_total")
            logger.error("history archive write failed", metadata: ["error": "\(error.message)"])
        }
        let archived = writer.takeArchived()
        for (id, version) in archived.done { history.archivedVersion[id] = max(history.archivedVersion[id] ?? 0, version) }
        // Tried again at the next tick, for as long as the session is in memory.
        for id in archived.failed where sessions[id] != nil { history.dirty.insert(id) }
        for done in writer.takeCompleted() {
            history.waiting.removeValue(forKey: done.token)?(done.result)
        }
    }

    /// Whether retention may drop this ended session: its current version is
    /// in the archive (always, without one: a hub without a transport).
    func isArchived(_ channel: SessionChannel) -> Bool {
        guard history.writer != nil else { return true }
        return history.archivedVersion[channel.engine.sessionId] == channel.engine.version
    }

    /// Runs `read` on the archive thread after everything pending; false
    /// when there is no archive (a hub without a transport, in unit tests).
    func historyRead(_ read: @escaping HistoryWriter.Read,
                     then completion: @escaping (Result<HistoryWriter.Answer, StoreError>) -> Void) -> Bool {
        guard let writer = history.writer else { return false }
        flushHistory()
        history.nextToken += 1
        history.waiting[history.nextToken] = completion
        writer.read(token: history.nextToken, read)
        return true
    }

    /// The archive row of an ended session, or nil if it has not ended.
    /// Pure: runs on the archive thread.
    static func archivedCall(_ engine: CallSession, encrypted: Bool) -> ArchivedCall? {
        guard let endedAt = engine.endedAt else { return nil }
        let document = engine.document.json
        let summary = HistorySummary.row(document, engine: engine)
        let timeline = engine.timeline
        var conflicts: [JSONValue] = []
        for entry in timeline {
            for conflict in entry.conflicts {
                var members = conflict.json.objectValue ?? [:]
                members["at"] = .int(entry.at)
                conflicts.append(.object(members))
            }
        }
        var searchable = [engine.sessionId]
        var fields = ["callId", "callUUID", "providerCallId", "twilioCallSid", "sipCallId", "calleeSub"]
        if !encrypted { fields += ["from", "to", "phoneNumber"] }
        for key in fields { if let text = document[key]?.stringValue { searchable.append(text) } }
        return ArchivedCall(
            sessionId: engine.sessionId, epoch: engine.epoch, endedAt: endedAt, startedAt: engine.startedAt,
            provider: document["provider"]?.stringValue, direction: document["direction"]?.stringValue,
            grade: engine.quality.latest?.grade?.rawValue, state: engine.currentCallState?.rawValue,
            calleeSub: document["calleeSub"]?.stringValue, mos: engine.quality.latest?.mos,
            mosAvg: engine.quality.aggregate.avg, warnings: engine.quality.warnings.map(\.rawValue),
            search: searchable.joined(separator: "\n").lowercased(),
            summary: JSONCodec.encode(summary), document: JSONCodec.encode(document),
            timeline: JSONCodec.encode(.array(timeline.map(\.json))), conflicts: JSONCodec.encode(.array(conflicts)))
    }

    // MARK: - Erasure

    /// Erases a session from memory, the journal and the archive
    /// (`DELETE /api/calls/{id}`); `then` learns whether any of them held it.
    /// An input of the session still waiting for its journal commit would
    /// apply after this and start the session again under a new epoch.
    func eraseCall(_ id: String, then completion: @escaping (Result<Bool, StoreError>) -> Void) -> Bool {
        guard history.writer != nil else { return false }
        // In a cluster every node forgets the session when the drop comes
        // back through the log (Hub+Cluster.swift), in the log's order.
        if let cluster { cluster.log.submit(.drop(sessionId: id), token: 0) }
        let inMemory = cluster == nil ? sessions.removeValue(forKey: id) != nil : sessions[id] != nil
        if inMemory && cluster == nil {
            qualityPending.remove(id)
            growthPending[id] = nil
            sessionsByProviderCallId = sessionsByProviderCallId.filter { $0.value != id }
            outbound?.pendingWrite.forgetDelivered += [id]
        }
        history.dirty.remove(id)
        history.archivedVersion[id] = nil
        history.samples.removeAll { $0.sessionId == id }
        journal?.drop(sessions: [id])
        history.nextToken += 1
        history.waiting[history.nextToken] = { result in
            completion(result.map { answer in
                if case .erased(let found) = answer { return found || inMemory }
                return inMemory
            })
        }
        history.writer?.erase(id, token: history.nextToken)
        logger.info("call erased", metadata: ["session": "\(id)", "inMemory": "\(inMemory)"])
        return true
    }
}
