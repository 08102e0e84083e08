import Auth
import CallState
import JSONCodec
import Store

/// The reactor's side of the cluster log (`store.kind` redis, PROTOCOL.md §9).
///
/// Every node applies the log in its one order and nothing else changes a
/// session's document: local inputs, timer ticks and retention drops all go
/// through the log first, so every node computes the same versions.
public final class ClusterState {
    /// The log on Redis and its threads.
    public let log: RedisLog
    /// Sessions created by a record of the log. A session the reactor made
    /// for a subscriber or a read before its first input is provisional: its
    /// first record gives it the epoch the whole cluster uses.
    var born: Set<String> = []
    /// The epoch of each session retention dropped, so the session's next
    /// life gets a new one, the same on every node.
    var droppedEpochs: [String: String] = [:]
    /// Local inputs read back before their write was confirmed durable.
    var outcomes: [Int: InputOutcome] = [:]
    /// Local inputs confirmed durable before they were read back.
    var durable: Set<Int> = []
    /// Local inputs in flight, by session (retention waits for them).
    var inFlight: [String: Int] = [:]
    /// When this node last proposed a tick or a drop for a session (the
    /// leader proposes again if its record has not come back in 2 s).
    var proposed: [String: Int64] = [:]
    /// The last log entry applied, and how many since the last checkpoint.
    var lastApplied = "0-0"
    var sinceCheckpoint = 0
    /// The id of the last checkpoint this node stored (or started from):
    /// the next one trims the log up to it.
    var lastCheckpoint = "0-0"
    /// Sessions changed, and sessions dropped, since the last checkpoint this
    /// node stored (or started from): what its next checkpoint writes. A
    /// node that never stored one keeps collecting, so whenever it takes the
    /// lease its checkpoint covers every change since the stored one.
    var changedSinceCheckpoint: Set<String> = []
    var droppedSinceCheckpoint: Set<String> = []
    /// What the checkpoint being stored carries, owed again if it fails.
    var checkpointInFlight: (changed: Set<String>, dropped: Set<String>)?
    /// Local subscriptions changed since this node last published its watchers.
    var presenceDirty = true
    /// The other nodes' watchers by session, merged (a user on two nodes counts once).
    var remoteWatchers: [String: [String: Presence.Watcher]] = [:]

    public init(log: RedisLog) { self.log = log }
}

extension Hub {
    /// Journals a local input in the cluster log; answered in `processCluster`.
    func acceptClustered(_ decoded: DecodedInput, to sessionId: String, reservation: GrowthLimits.Reservation,
                         cluster: ClusterState, completion: @escaping Completion) {
        let epoch = sessions[sessionId]?.engine.epoch ?? firstEpoch(sessionId, cluster)
        let entry = JournalEntry(sessionId: sessionId, epoch: epoch, input: decoded.input)
        if let invalid = JournalWriter.check(entry) {
            releaseGrowth(reservation, applied: false)
            completion(.failure(invalid))
            return
        }
        nextJournalToken += 1
        pendingInputs[nextJournalToken] = PendingInput(sessionId: sessionId, decoded: decoded,
                                                       reservation: reservation, completion: completion)
        cluster.inFlight[sessionId, default: 0] += 1
        cluster.log.submit(.input(origin: cluster.log.instance, token: nextJournalToken, entry: entry), token: nextJournalToken)
    }

    /// Applies what the log delivered and answers the local inputs that are
    /// both durable and read back (on wake-up).
    func processCluster(_ cluster: ClusterState) {
        for (token, error) in cluster.log.takeWritten() where token > 0 {
            if let error {
                guard let pending = pendingInputs.removeValue(forKey: token) else { continue }
                logger.error("cluster log write failed", metadata: ["error": "\(error.message)"])
                // Read back already (WAIT fell short): applied everywhere, yet not confirmed.
                let applied = cluster.outcomes.removeValue(forKey: token) != nil
                finishInFlight(pending.sessionId, cluster)
                releaseGrowth(pending.reservation, applied: applied)
                pending.completion(.failure(error))
            } else if let outcome = cluster.outcomes.removeValue(forKey: token) {
                complete(token, outcome, cluster)
            } else if pendingInputs[token] != nil {
                cluster.durable.insert(token)
            }
        }
        for entry in cluster.log.takeArrived() { applyClustered(entry, cluster) }
        checkpointIfDue(cluster)
        for error in cluster.log.takeCheckpointErrors() {
            logger.error("cluster checkpoint failed", metadata: ["error": "\(error.message)"])
        }
        if cluster.log.missedEntries && storeHealthy {
            logger.critical("the cluster log was trimmed past what this node read; restart it to rebuild from the checkpoint")
        }
        if let tables = cluster.log.takeRemotePresence() { applyRemotePresence(tables, cluster) }
        storeHealthy = cluster.log.healthy
    }

    /// Presence, cluster-wide: every node publishes its own watchers with
    /// its heartbeat (`RedisLog`); the others' are merged into each
    /// session's presence, and who joined or left goes out as usual. Not in
    /// the log: presence describes the present, so it is never replayed, and
    /// a dead node's watchers leave when its heartbeat expires (10 s).
    func applyRemotePresence(_ tables: [String: [UInt8]], _ cluster: ClusterState, now: Int64 = WallClock.nowMs()) {
        var merged: [String: [String: Presence.Watcher]] = [:]
        for (_, bytes) in tables {
            guard case .object(let bySession)? = try? JSONCodec.parse(bytes) else { continue }
            for (sessionId, list) in bySession {
                guard case .array(let items) = list else { continue }
                for item in items {
                    guard let sub = item["sub"]?.stringValue, let role = item["role"]?.stringValue.flatMap(Role.init),
                          let since = item["at"]?.intValue, let count = item["n"]?.intValue else { continue }
                    let watcher = Presence.Watcher(role: role, since: since, connections: Int(count))
                    merged[sessionId, default: [:]][sub] = merged[sessionId]?[sub].map {
                        Presence.Watcher(role: $0.since <= since ? $0.role : role, since: min($0.since, since),
                                         connections: $0.connections + Int(count))
                    } ?? watcher
                }
            }
        }
        let touched = Set(merged.keys).union(cluster.remoteWatchers.keys)
        cluster.remoteWatchers = merged
        for sessionId in touched.sorted() {
            guard let channel = sessions[sessionId] else { continue }
            let (joined, left) = channel.presence.setRemote(merged[sessionId] ?? [:], at: now)
            if !joined.isEmpty || !left.isEmpty {
                channel.sendOutOfBand(frames.presence(sessionId, joined: joined, left: left))
            }
        }
    }

    /// This node's watchers as it publishes them: `{session: [{sub, role, at, n}]}`.
    func encodedLocalPresence() -> [UInt8] {
        var out: [String: JSONValue] = [:]
        for (id, channel) in sessions where !channel.presence.watchers.isEmpty {
            out[id] = .array(channel.presence.watchers.keys.sorted().map { sub in
                let w = channel.presence.watchers[sub]!
                return ["sub": .string(sub), "role": .string(w.role.rawValue), "at": .int(w.since), "n": .int(Int64(w.connections))]
            })
        }
        return JSONCodec.encode(.object(out))
    }

    private func complete(_ token: Int, _ outcome: InputOutcome, _ cluster: ClusterState) {
        guard let pending = pendingInputs.removeValue(forKey: token) else { return }
        finishInFlight(pending.sessionId, cluster)
        releaseGrowth(pending.reservation, applied: true)
        pending.completion(.success(outcome))
    }

    private func finishInFlight(_ sessionId: String, _ cluster: ClusterState) {
        let left = (cluster.inFlight[sessionId] ?? 1) - 1
        cluster.inFlight[sessionId] = left > 0 ? left : nil
    }

    /// Applies one record of the log: at start (restore) and live alike, so
    /// a restarted node rebuilds the same state and the same replay window.
    func applyClustered(_ logEntry: ClusterLogEntry, _ cluster: ClusterState) {
        cluster.lastApplied = logEntry.id
        cluster.sinceCheckpoint += 1
        switch logEntry.record {
        case .input(_, _, let entry): cluster.changedSinceCheckpoint.insert(entry.sessionId)
        case .tick(let sessionId, _): cluster.changedSinceCheckpoint.insert(sessionId)
        case .drop(let sessionId):
            cluster.changedSinceCheckpoint.remove(sessionId)
            cluster.droppedSinceCheckpoint.insert(sessionId)
        }
        switch logEntry.record {
        case .input(let origin, let token, let entry):
            let local = origin == cluster.log.instance ? pendingInputs[token] : nil
            let channel = clusterChannel(entry.sessionId, epoch: entry.epoch, logId: logEntry.id, cluster)
            let outcome = submit(local?.decoded ?? DecodedInput(input: entry.input), to: entry.sessionId,
                                 now: entry.input.receivedAt)
            indexProviderCallIds(channel)
            guard local != nil else { return }
            if cluster.durable.remove(token) != nil {
                complete(token, outcome, cluster)
            } else {
                cluster.outcomes[token] = outcome
            }
        case .tick(let sessionId, let at):
            cluster.proposed[sessionId] = nil
            guard cluster.born.contains(sessionId), let channel = sessions[sessionId],
                  let deadline = channel.engine.nextDeadline(), deadline <= at,
                  let outcome = channel.engine.tick(now: at) else { return }
            publish(outcome, on: channel, now: at)
            if outbound != nil { outboundTicked(outcome, on: channel, now: at) }
        case .drop(let sessionId):
            cluster.proposed[sessionId] = nil
            guard let channel = sessions[sessionId] else { return }
            cluster.droppedEpochs[sessionId] = channel.engine.epoch
            cluster.born.remove(sessionId)
            history.archivedVersion[sessionId] = nil
            sessions[sessionId] = nil
            qualityPending.remove(sessionId)
            growthPending[sessionId] = nil
            sessionsByProviderCallId = sessionsByProviderCallId.filter { $0.value != sessionId }
            outbound?.pendingWrite.forgetDelivered.append(sessionId)
        }
    }

    /// The session a record applies to, created with the record's epoch when
    /// the log has not created it yet.
    private func clusterChannel(_ sessionId: String, epoch: String, logId: String,
                                _ cluster: ClusterState) -> SessionChannel {
        if cluster.born.contains(sessionId), let channel = sessions[sessionId] { return channel }
        cluster.born.insert(sessionId)
        // The record was accepted while the node still held the dropped life
        // of the session: derive a new epoch from the record's place in the log.
        let epoch = cluster.droppedEpochs[sessionId] == epoch ? Hub.derivedEpoch(sessionId, logId) : epoch
        if let provisional = sessions[sessionId] {
            provisional.engine = CallSession(sessionId: sessionId, epoch: epoch, config: mergeConfig)
            provisional.replay = ReplayLog(capacity: config.retention.replayFrames)
            return provisional
        }
        metrics.increment("switchboard_calls_total")
        let created = createChannel(sessionId, epoch: epoch)
        if let watchers = cluster.remoteWatchers[sessionId] { _ = created.presence.setRemote(watchers, at: WallClock.nowMs()) }
        return created
    }

    /// The epoch of a session's first life, the same on every node: a
    /// subscriber that arrives before the session's first input (a
    /// provisional session) already holds the epoch the log will give it.
    func firstEpoch(_ sessionId: String, _ cluster: ClusterState) -> String {
        Hub.derivedEpoch(sessionId, cluster.log.clusterId)
    }

    /// 16 hex digits from FNV-1a over the session id and a log id: the same on every node.
    static func derivedEpoch(_ sessionId: String, _ logId: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (sessionId + "\u{0}" + logId).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Timers, cluster-wide: only the node holding the lease proposes a
    /// tick, through the log; every node applies it when it comes back.
    func proposeClusterTicks(_ cluster: ClusterState, now: Int64) {
        var connections = dashboard.subscribers.count
        for channel in sessions.values { connections += channel.order.count }
        cluster.log.report(connections: connections, sessions: sessions.count)
        if cluster.presenceDirty {
            cluster.presenceDirty = false
            cluster.log.reportPresence(encodedLocalPresence())
        }
        guard cluster.log.isLeader else { return }
        for (id, channel) in sessions where cluster.born.contains(id) {
            guard let deadline = channel.engine.nextDeadline(), deadline <= now,
                  now - (cluster.proposed[id] ?? .min / 2) >= 2000 else { continue }
            cluster.proposed[id] = now
            cluster.log.submit(.tick(sessionId: id, at: now), token: 0)
        }
    }

    /// Retention, cluster-wide: the lease holder proposes the drop of ended
    /// sessions that nobody watches on any node (as far as the last
    /// heartbeats tell) and it has no inputs in flight for.
    func proposeClusterDrops(_ cluster: ClusterState, now: Int64) {
        guard cluster.log.isLeader else { return }
        let keepMs = Int64(config.retention.endedSec) * 1000
        for (id, channel) in sessions where cluster.born.contains(id) && channel.order.isEmpty && cluster.inFlight[id] == nil
            && (cluster.remoteWatchers[id]?.isEmpty ?? true) {
            guard let endedAt = channel.engine.endedAt, now - endedAt >= keepMs,
                  channel.engine.lastSyncAt.map({ now - $0 >= keepMs }) ?? true,
                  now - (cluster.proposed[id] ?? .min / 2) >= 2000 else { continue }
            guard isArchived(channel) else { markForArchive(channel); continue }  // kept until it is (§12)
            cluster.proposed[id] = now
            cluster.log.submit(.drop(sessionId: id), token: 0)
        }
    }

    /// `GET /api/cluster`: this node and every node heartbeating into Redis.
    public func clusterJSON() -> JSONValue? {
        guard let cluster else { return nil }
        let nodes: [JSONValue] = cluster.log.nodes.map { node in
            ["nodeId": .string(node.nodeId), "connections": .int(Int64(node.connections)),
             "sessions": .int(Int64(node.sessions)), "lastSeen": .int(node.lastSeen)]
        }
        return ["nodeId": .string(cluster.log.nodeId), "nodes": .array(nodes)]
    }

    /// Log entries between two checkpoints: `store.snapshotEvery` × 20
    /// (10,000 by default), since a checkpoint encodes every session.
    var clusterCheckpointEvery: Int { config.store.snapshotEvery * 20 }

    /// The lease holder checkpoints the state every `clusterCheckpointEvery`
    /// entries, as of the last entry applied: the sessions changed since
    /// the stored checkpoint are written, the dropped ones deleted; the log
    /// is then trimmed up to the previous checkpoint (one interval of slack
    /// for nodes reading behind).
    func checkpointIfDue(_ cluster: ClusterState) {
        for stored in cluster.log.takeCheckpointResults() {
            if !stored, let owed = cluster.checkpointInFlight {
                cluster.changedSinceCheckpoint.formUnion(owed.changed)
                cluster.droppedSinceCheckpoint.formUnion(owed.dropped)
            }
            cluster.checkpointInFlight = nil
        }
        guard cluster.sinceCheckpoint >= clusterCheckpointEvery, cluster.log.isLeader,
              cluster.checkpointInFlight == nil else { return }
        // Copies of the engines (values): encoded off the reactor, by the log.
        let changed = cluster.changedSinceCheckpoint.filter { cluster.born.contains($0) && sessions[$0] != nil }
        let engines = changed.sorted().compactMap { sessions[$0]?.engine }
        let removed = cluster.droppedSinceCheckpoint.subtracting(changed).sorted()
        let dropped = JSONCodec.encode(.object(cluster.droppedEpochs.mapValues { .string($0) }))
        guard cluster.log.storeCheckpoint(id: cluster.lastApplied, engines: engines, removed: removed, dropped: dropped,
                                          trimBefore: cluster.lastCheckpoint) else { return }
        cluster.checkpointInFlight = (cluster.changedSinceCheckpoint, cluster.droppedSinceCheckpoint)
        cluster.changedSinceCheckpoint = []
        cluster.droppedSinceCheckpoint = []
        cluster.sinceCheckpoint = 0
        cluster.lastCheckpoint = cluster.lastApplied
    }

    /// Rebuilds every session at start: the checkpoint's sessions (their
    /// replay window starts at the checkpoint), then the log entries after it.
    public func restoreCluster(checkpoint: ClusterCheckpoint?, entries: [ClusterLogEntry]) throws(StoreError) {
        guard let cluster else { return }
        if let checkpoint {
            for snapshot in checkpoint.sessions {
                try restoreSnapshot(snapshot)
                cluster.born.insert(snapshot.sessionId)
            }
            if case .object(let dropped)? = try? JSONCodec.parse(checkpoint.dropped) {
                for (id, epoch) in dropped { if let text = epoch.stringValue { cluster.droppedEpochs[id] = text } }
            }
            cluster.lastApplied = checkpoint.id
            cluster.lastCheckpoint = checkpoint.id
        }
        for entry in entries { applyClustered(entry, cluster) }
        indexProviderCallIds()
    }
}
