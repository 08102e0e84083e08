#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CallState

/// One record of the cluster's log, as every node reads it back.
public enum ClusterRecord: Sendable, Equatable {
    /// An input accepted by node instance `origin` for its waiting request `token`.
    case input(origin: String, token: Int, entry: JournalEntry)
    /// A session's timers are due at `at` (syncStatus flip, ring timeout):
    /// every node ticks the session's engine with this hub time.
    case tick(sessionId: String, at: Int64)
    /// Retention: every node forgets the session.
    case drop(sessionId: String)
}

/// A record with its place in the log: Redis stream ids order the whole cluster.
public struct ClusterLogEntry: Sendable, Equatable {
    /// The Redis stream id (`<ms>-<seq>`).
    public let id: String
    public let record: ClusterRecord
}

/// The whole cluster's state as of one log entry: what a node starts from
/// instead of the log's beginning, after which the log is trimmed.
public struct ClusterCheckpoint: Sendable, Equatable {
    /// The last log entry the state includes.
    public var id: String
    /// Every session created by the log and not dropped.
    public var sessions: [SessionSnapshot]
    /// `ClusterState.droppedEpochs`, as JSON (`{session: epoch}`).
    public var dropped: [UInt8]
    /// The log is trimmed before this id: the previous checkpoint's, so a
    /// node that reads up to one checkpoint interval behind loses nothing.
    public var trimBefore: String
    /// Sessions whose stored snapshot is to be deleted (dropped since the
    /// last checkpoint). A checkpoint is stored as a change of the previous
    /// one: `sessions` holds only what changed since.
    public var removed: [String]

    public init(id: String, sessions: [SessionSnapshot], dropped: [UInt8], trimBefore: String, removed: [String] = []) {
        self.id = id
        self.sessions = sessions
        self.dropped = dropped
        self.trimBefore = trimBefore
        self.removed = removed
    }
}

/// What a node reports about itself in the cluster's node table (`GET /api/cluster`).
public struct ClusterNodeInfo: Sendable, Equatable {
    public var nodeId: String
    public var connections: Int
    public var sessions: Int
    /// Wall-clock milliseconds of the node's last heartbeat.
    public var lastSeen: Int64

    public init(nodeId: String, connections: Int, sessions: Int, lastSeen: Int64) {
        self.nodeId = nodeId
        self.connections = connections
        self.sessions = sessions
        self.lastSeen = lastSeen
    }
}

/// The cluster's one log on Redis (`store.kind` redis, PROTOCOL.md §9).
///
/// One Redis Stream holds every input of every session, so one `XADD` gives
/// each input its place in a single cluster-wide order, and every node
/// applies the stream from the start in that order: the same engine inputs
/// in the same order produce the same versions, epochs and frame bytes.
/// One stream for all sessions, not one per session: a node then needs one
/// blocking `XREAD` on one connection, and a restart replays one range.
///
/// Two threads, each with its own connection:
/// - the writer takes everything `submit`ted, pipelines the `XADD`s (plus a
///   `WAIT` with `store.redisReplicas`), then reports per token whether the
///   write is durable. Between batches, once a second, it heartbeats into the
///   node table and holds or renews the timer lease.
/// - the reader blocks in `XREAD` from the last id it saw and queues what
///   arrives; the reactor applies it in stream order (`takeArrived`).
///
/// A local input is answered when both happened: its write is durable, and
/// its record came back through the reader (then it has its place in the
/// order and its outcome is the one every node computes).
///
/// ## Lock discipline (why `@unchecked Sendable` is sound)
/// Every `var` below except the two connections is read and written only
/// while holding `lock`; the writer connection belongs to the writer thread,
/// the reader connection to the reader thread, once `start` has run.
public final class RedisLog: @unchecked Sendable {
    /// The stream every node appends to and reads.
    public let streamKey: String
    let nodesKey: String
    let presenceKey: String
    let leaseKey: String
    let checkpointKey: String
    public let url: RedisURL
    /// `cluster.nodeId`.
    public let nodeId: String
    /// This process: the node id plus a random part, so a restarted node
    /// never takes a record of its previous life for one of its own requests.
    public let instance: String
    let replicas: Int
    /// Random, made by the first node that ever used this Redis: the seed of
    /// session epochs, so a fresh Redis never repeats the epochs of an old one.
    public let clusterId: String
    private let wake: @Sendable () -> Void
    private let lock = ConditionLock()
    private var queue: [(token: Int, record: ClusterRecord)] = []
    private var written: [(token: Int, error: StoreError?)] = []
    private var arrived: [ClusterLogEntry] = []
    private var writerHealthy = true
    private var readerHealthy = true
    private var leader = false
    private var heartbeat = ClusterNodeInfo(nodeId: "", connections: 0, sessions: 0, lastSeen: 0)
    private var nodeTable: [ClusterNodeInfo] = []
    /// This node's watchers (encoded by the hub), written with each heartbeat.
    private var localPresence: [UInt8] = Array("{}".utf8)
    /// The other live nodes' watchers as of the last heartbeat, and whether
    /// they changed since the reactor last took them.
    private var remotePresence: [String: [UInt8]] = [:]
    private var remotePresenceChanged = false
    /// The thread storing the last checkpoint (joined before the next one
    /// starts, and at close), and whether it is still working.
    private var checkpointThread: PosixThread?
    private var checkpointBusy = false
    private var checkpointResults: [Bool] = []
    private var checkpointErrors: [StoreError] = []
    /// Set when the log was trimmed past what this node read: never cleared.
    private var behind = false
    private var closing = false
    private var writerSleeps = false
    private var lastId: String
    private var writerThread: PosixThread?
    private var readerThread: PosixThread?
    private var writer: RedisConnection?
    private var reader: RedisConnection?
    /// How long a node keeps the timer lease without renewing it.
    static let leaseMs = 3000
    /// A node missing from heartbeats this long leaves the node table.
    static let nodeExpiryMs: Int64 = 10_000

    /// Connects without starting any thread.
    /// - Parameters:
    ///   - url: `store.url`.
    ///   - replicas: `store.redisReplicas`; 0 requires `appendfsync always`.
    ///   - prefix: key prefix, `switchboard:` unless tests isolate themselves.
    /// - Throws: when Redis cannot be reached or cannot make a write durable.
    public init(url: RedisURL, nodeId: String, replicas: Int, prefix: String = "switchboard:",
                wake: @escaping @Sendable () -> Void) throws(StoreError) {
        self.url = url
        self.nodeId = nodeId
        self.replicas = replicas
        self.streamKey = prefix + "log"
        self.nodesKey = prefix + "nodes"
        self.presenceKey = prefix + "presence"
        self.checkpointKey = prefix + "checkpoint"
        self.leaseKey = prefix + "timers"
        self.wake = wake
        var rng = SystemRandomNumberGenerator()
        self.instance = nodeId + "/" + String(rng.next() as UInt64, radix: 36)
        self.lastId = "0-0"
        let connection = try RedisConnection(url, timeoutMs: 2000)
        writer = connection
        // One random id per cluster (per Redis database and prefix), kept in Redis.
        let fresh = String(rng.next() as UInt64, radix: 16)
        _ = try connection.command(["SET", prefix + "clusterId", fresh, "NX"])
        guard let stored = try connection.command(["GET", prefix + "clusterId"]).text else {
            throw StoreError(message: "redis: cannot read \(prefix)clusterId")
        }
        clusterId = stored
    }

    /// Refuses to serve on a Redis that would acknowledge writes before they
    /// are durable (see `checkDurability(_:replicas:)`). Call before `start`.
    public func checkDurability() throws(StoreError) {
        guard let writer else { throw StoreError(message: "redis: not connected") }
        try RedisLog.checkDurability(writer, replicas: replicas)
    }

    /// Refuses a Redis that acknowledges writes before they are on disk:
    /// `appendonly yes` with `appendfsync always`, unless replicas confirm
    /// every write (`WAIT`).
    static func checkDurability(_ connection: RedisConnection, replicas: Int) throws(StoreError) {
        guard replicas == 0 else { return }
        let aof = try connection.command(["CONFIG", "GET", "appendonly"]).elements.last?.text
        let fsync = try connection.command(["CONFIG", "GET", "appendfsync"]).elements.last?.text
        guard aof == "yes", fsync == "always" else {
            throw StoreError(message: "redis at store.url has appendonly \(aof ?? "?") and appendfsync \(fsync ?? "?"): "
                + "a 2xx would not mean durable. Set `appendonly yes` and `appendfsync always` in redis.conf, "
                + "or set store.redisReplicas to the number of replicas each write waits for (WAIT)")
        }
    }

    /// The newest checkpoint (nil before the first) and every record after
    /// it, in order (restart); also sets where the reader starts. Both are
    /// read in one transaction, so a checkpoint stored meanwhile (which trims
    /// the log) cannot fall between them. Call before `start`.
    public func load() throws(StoreError) -> (checkpoint: ClusterCheckpoint?, entries: [ClusterLogEntry]) {
        guard let connection = writer else { throw StoreError(message: "redis: not connected") }
        try connection.append([Array("MULTI".utf8)])
        try connection.append([Array("HGETALL".utf8), Array(checkpointKey.utf8)])
        try connection.append([Array("XRANGE".utf8), Array(streamKey.utf8), Array("-".utf8), Array("+".utf8)])
        try connection.append([Array("EXEC".utf8)])
        for _ in 0..<3 { _ = try connection.readReply() }  // OK, QUEUED, QUEUED
        let replies = try connection.readReply().elements
        guard replies.count == 2 else { throw StoreError(message: "redis: MULTI/EXEC of the start-up read failed") }
        var fields: [String: [UInt8]] = [:]
        let flat = replies[0].elements
        var index = 0
        while index + 1 < flat.count {
            if let key = flat[index].text, case .string(let value) = flat[index + 1] { fields[key] = value }
            index += 2
        }
        var checkpoint: ClusterCheckpoint?
        if let idBytes = fields["id"] {
            var sessions: [SessionSnapshot] = []
            for (key, value) in fields where key.hasPrefix("s:") {
                let sessionId = String(key.dropFirst(2))
                guard let tab = value.firstIndex(of: 0x0A) else { continue }
                sessions.append(SessionSnapshot(sessionId: sessionId, epoch: String(decoding: value[..<tab], as: UTF8.self),
                                                payload: Array(value[(tab + 1)...])))
            }
            checkpoint = ClusterCheckpoint(id: String(decoding: idBytes, as: UTF8.self),
                                           sessions: sessions.sorted { $0.sessionId < $1.sessionId },
                                           dropped: fields["dropped"] ?? Array("{}".utf8), trimBefore: "0-0")
        }
        var out: [ClusterLogEntry] = []
        for item in replies[1].elements {
            guard let id = item.elements.first?.text else { continue }
            // The last id read, parsed or not: the reader continues after it.
            lastId = id
            if let after = checkpoint?.id, !RedisLog.isAfter(id, after) { continue }
            if let entry = RedisLog.parse(item) { out.append(entry) }
        }
        return (checkpoint, out)
    }

    /// Whether stream id `a` comes after `b` (`<ms>-<seq>`, compared as numbers).
    static func isAfter(_ a: String, _ b: String) -> Bool {
        func split(_ id: String) -> (UInt64, UInt64) {
            let parts = id.split(separator: "-")
            return (UInt64(parts.first ?? "0") ?? 0, UInt64(parts.count > 1 ? parts[1] : "0") ?? 0)
        }
        let (x, y) = (split(a), split(b))
        return x.0 != y.0 ? x.0 > y.0 : x.1 > y.1
    }

    /// Stores a checkpoint on a thread of its own, with the log trimmed up
    /// to `trimBefore`, in one transaction. The sessions are encoded there
    /// too: a checkpoint of many long sessions is megabytes of JSON, which
    /// would stall the reactor (every frame of this node) or the writer
    /// (every answer of this node) for as long. Returns false, storing
    /// nothing, while the previous checkpoint is still being stored.
    /// Only the lease holder makes them.
    ///
    /// The checkpoint changes the stored one: `engines` are the sessions
    /// changed since it, `removed` the ones dropped since. Whether it was
    /// stored comes back through `takeCheckpointResults` (on false, the
    /// caller owes those changes to the next checkpoint).
    public func storeCheckpoint(id: String, engines: [CallSession], removed: [String], dropped: [UInt8],
                                trimBefore: String) -> Bool {
        let previous: PosixThread?? = lock.withLock {
            guard !closing, !checkpointBusy else { return nil }
            checkpointBusy = true
            defer { checkpointThread = nil }
            return .some(checkpointThread)
        }
        guard let previous else { return false }
        previous?.join()  // finished already: checkpointBusy was false
        let thread = PosixThread(name: "sb-redis-ckpt") { [self] in
            let checkpoint = ClusterCheckpoint(id: id, sessions: engines.map(SessionSnapshot.init), dropped: dropped,
                                               trimBefore: trimBefore, removed: removed)
            let stored = store(checkpoint)
            lock.withLock {
                checkpointBusy = false
                checkpointResults.append(stored)
            }
            wake()
        }
        lock.withLock { checkpointThread = thread }
        return true
    }

    /// For each checkpoint finished since the last call, whether it was stored.
    public func takeCheckpointResults() -> [Bool] {
        lock.withLock {
            defer { checkpointResults.removeAll() }
            return checkpointResults
        }
    }

    /// Checkpoints that could not be stored since the last call.
    public func takeCheckpointErrors() -> [StoreError] {
        lock.withLock {
            defer { checkpointErrors.removeAll() }
            return checkpointErrors
        }
    }

    /// Starts the writer and reader threads.
    public func start() {
        let writerThread = PosixThread(name: "sb-redis-w") { [self] in self.runWriter() }
        let readerThread = PosixThread(name: "sb-redis-r") { [self] in self.runReader() }
        lock.withLock {
            self.writerThread = writerThread
            self.readerThread = readerThread
        }
    }

    // MARK: Reactor side

    /// Queues a record for the log; returns at once.
    public func submit(_ record: ClusterRecord, token: Int) {
        let mustSignal: Bool = lock.withLock {
            if closing {
                written.append((token, StoreError(message: "cluster log is closed")))
                return false
            }
            queue.append((token, record))
            defer { writerSleeps = false }
            return writerSleeps
        }
        if mustSignal { lock.signal() }
    }

    /// Records read from the log since the last call, in log order.
    public func takeArrived() -> [ClusterLogEntry] {
        lock.withLock {
            defer { arrived.removeAll(keepingCapacity: true) }
            return arrived
        }
    }

    /// Writes finished since the last call: nil error means durable.
    public func takeWritten() -> [(token: Int, error: StoreError?)] {
        lock.withLock {
            defer { written.removeAll(keepingCapacity: true) }
            return written
        }
    }

    /// Both connections work (`/readyz`).
    public var healthy: Bool { lock.withLock { writerHealthy && readerHealthy && !behind } }

    /// The log was trimmed past what this node read: it must be restarted.
    public var missedEntries: Bool { lock.withLock { behind } }

    /// Whether this node holds the timer lease: only it proposes ticks and drops.
    public var isLeader: Bool { lock.withLock { leader && writerHealthy } }

    /// What the next heartbeat reports (connections and sessions are the reactor's).
    public func report(connections: Int, sessions: Int) {
        lock.withLock {
            heartbeat.connections = connections
            heartbeat.sessions = sessions
        }
    }

    /// Sets what the next heartbeats publish as this node's watchers.
    public func reportPresence(_ encoded: [UInt8]) {
        lock.withLock { localPresence = encoded }
    }

    /// The other live nodes' watcher tables (node id → what it reported),
    /// when they changed since the last call; else nil.
    public func takeRemotePresence() -> [String: [UInt8]]? {
        lock.withLock {
            guard remotePresenceChanged else { return nil }
            remotePresenceChanged = false
            return remotePresence
        }
    }

    /// The node table as of the last heartbeat (live nodes only).
    public var nodes: [ClusterNodeInfo] { lock.withLock { nodeTable } }

    /// Stops both threads (queued writes are flushed first) and leaves the node table.
    public func close() {
        let threads: [PosixThread] = lock.withLock {
            closing = true
            lock.broadcast()
            defer { writerThread = nil; readerThread = nil; checkpointThread = nil }
            return [writerThread, readerThread, checkpointThread].compactMap { $0 }
        }
        for thread in threads { thread.join() }
    }

    // MARK: Encoding

    static func fields(_ record: ClusterRecord) -> [[UInt8]] {
        switch record {
        case .input(let origin, let token, let entry):
            return [Array("k".utf8), Array("in".utf8), Array("n".utf8), Array(origin.utf8),
                    Array("t".utf8), Array(String(token).utf8), Array("s".utf8), Array(entry.sessionId.utf8),
                    Array("e".utf8), Array(entry.epoch.utf8), Array("i".utf8), InputCodec.encode(entry.input)]
        case .tick(let sessionId, let at):
            return [Array("k".utf8), Array("tick".utf8), Array("s".utf8), Array(sessionId.utf8),
                    Array("at".utf8), Array(String(at).utf8)]
        case .drop(let sessionId):
            return [Array("k".utf8), Array("drop".utf8), Array("s".utf8), Array(sessionId.utf8)]
        }
    }

    /// One stream entry (`[id, [field, value, …]]`) as a record; nil for
    /// anything this version does not know.
    static func parse(_ reply: RedisReply) -> ClusterLogEntry? {
        let parts = reply.elements
        guard parts.count == 2, let id = parts[0].text else { return nil }
        var fields: [String: [UInt8]] = [:]
        let flat = parts[1].elements
        var index = 0
        while index + 1 < flat.count {
            if let key = flat[index].text, case .string(let value) = flat[index + 1] { fields[key] = value }
            index += 2
        }
        func text(_ key: String) -> String? { fields[key].map { String(decoding: $0, as: UTF8.self) } }
        guard let kind = text("k"), let sessionId = text("s") else { return nil }
        switch kind {
        case "in":
            guard let origin = text("n"), let token = text("t").flatMap({ Int($0) }), let epoch = text("e"),
                  let bytes = fields["i"], let input = try? InputCodec.decode(bytes) else { return nil }
            return ClusterLogEntry(id: id, record: .input(origin: origin, token: token,
                                                          entry: JournalEntry(sessionId: sessionId, epoch: epoch, input: input)))
        case "tick":
            guard let at = text("at").flatMap({ Int64($0) }) else { return nil }
            return ClusterLogEntry(id: id, record: .tick(sessionId: sessionId, at: at))
        case "drop":
            return ClusterLogEntry(id: id, record: .drop(sessionId: sessionId))
        default:
            return nil
        }
    }

    // MARK: Writer thread

    private func runWriter() {
        var lastBeat: Double = 0
        lock.lock()
        while true {
            while queue.isEmpty && !closing {
                writerSleeps = true
                if lock.wait(seconds: 1) { break }
            }
            writerSleeps = false
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let done = closing && batch.isEmpty
            lock.unlock()
            if done { break }
            if !batch.isEmpty { write(batch) }
            let now = JournalWriter.monotonicSeconds()
            if now - lastBeat >= 1 {
                lastBeat = now
                beat()
            }
            lock.lock()
        }
        leave()
        writer?.close()
    }

    /// A connection to use, reconnecting a broken one (one attempt: callers
    /// come back at the next batch or heartbeat, at most once a second idle).
    private func writerConnection() throws(StoreError) -> RedisConnection {
        if let writer, writer.isOpen { return writer }
        let connection = try RedisConnection(url, timeoutMs: 2000)
        writer = connection
        return connection
    }

    private func write(_ batch: [(token: Int, record: ClusterRecord)]) {
        var failure: StoreError?
        do {
            let connection = try writerConnection()
            for item in batch {
                try connection.append([Array("XADD".utf8), Array(streamKey.utf8), Array("*".utf8)] + RedisLog.fields(item.record))
            }
            for _ in batch {
                if case .error(let text) = try connection.readReply() {
                    failure = failure ?? StoreError(message: "redis XADD: \(text)")
                }
            }
            if failure == nil, replicas > 0 {
                let reply = try connection.command(["WAIT", String(replicas), "2000"])
                if case .integer(let acked) = reply, acked < replicas {
                    failure = StoreError(message: "redis WAIT: \(acked) of \(replicas) replicas confirmed")
                }
            }
        } catch {
            failure = error
        }
        lock.withLock {
            if failure != nil { writerHealthy = false }
            for item in batch { written.append((item.token, failure)) }
        }
        wake()
    }

    /// Updates the checkpoint (changed sessions written, dropped ones
    /// deleted, the new id) and trims the log, atomically: a starting node
    /// reads either the old checkpoint and the entries after it, or the new
    /// one and the entries after that.
    private func store(_ checkpoint: ClusterCheckpoint) -> Bool {
        do {
            let connection = try RedisConnection(url, timeoutMs: 10_000)
            defer { connection.close() }
            var hset: [[UInt8]] = [Array("HSET".utf8), Array(checkpointKey.utf8),
                                   Array("id".utf8), Array(checkpoint.id.utf8), Array("dropped".utf8), checkpoint.dropped]
            for snapshot in checkpoint.sessions {
                hset.append(Array(("s:" + snapshot.sessionId).utf8))
                hset.append(Array(snapshot.epoch.utf8) + [0x0A] + snapshot.payload)
            }
            // A node that just lost the lease must not replace a newer
            // checkpoint with its older one (WATCH makes the check atomic).
            _ = try connection.command(["WATCH", checkpointKey])
            if let stored = try connection.command(["HGET", checkpointKey, "id"]).text, !RedisLog.isAfter(checkpoint.id, stored) {
                _ = try connection.command(["UNWATCH"])
                return false
            }
            var commands: [[[UInt8]]] = []
            if !checkpoint.removed.isEmpty {
                commands.append([Array("HDEL".utf8), Array(checkpointKey.utf8)] + checkpoint.removed.map { Array(("s:" + $0).utf8) })
            }
            commands.append(hset)
            commands.append([Array("XTRIM".utf8), Array(streamKey.utf8), Array("MINID".utf8), Array(checkpoint.trimBefore.utf8)])
            try connection.append([Array("MULTI".utf8)])
            for command in commands { try connection.append(command) }
            try connection.append([Array("EXEC".utf8)])
            for _ in 0...commands.count { _ = try connection.readReply() }  // OK, then QUEUED each
            let result = try connection.readReply()
            if case .error(let text) = result { throw StoreError(message: "redis checkpoint: \(text)") }
            // A null reply: the checkpoint changed after WATCH; the newer one stays.
            if result == .null { return false }
            if result.elements.count != commands.count { throw StoreError(message: "redis checkpoint: transaction aborted") }
            if result.elements.contains(where: { if case .error = $0 { return true } else { return false } }) {
                throw StoreError(message: "redis checkpoint: a command of the transaction failed")
            }
            if replicas > 0 { _ = try connection.command(["WAIT", String(replicas), "2000"]) }
            return true
        } catch {
            lock.withLock { checkpointErrors.append(StoreError.wrapping(error)) }
            return false
        }
    }

    /// Heartbeat into the node table, renew or take the timer lease, read
    /// the table back. Also how a broken writer connection comes back.
    private func beat() {
        let (info, presence): (ClusterNodeInfo, [UInt8]) = lock.withLock { (heartbeat, localPresence) }
        let now = WallClockMs.now()
        let value = "{\"connections\":\(info.connections),\"sessions\":\(info.sessions),\"lastSeen\":\(now)}"
        let script = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end "
            + "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0"
        var ok = false
        var isLeader = false
        var table: [ClusterNodeInfo] = []
        var others: [String: [UInt8]] = [:]
        do {
            let connection = try writerConnection()
            _ = try connection.command(["HSET", nodesKey, nodeId, value])
            let lease = try connection.command(["EVAL", script, "1", leaseKey, instance, String(RedisLog.leaseMs)])
            isLeader = lease == .integer(1)
            _ = try connection.command([Array("HSET".utf8), Array(presenceKey.utf8), Array(nodeId.utf8), presence])
            let all = try connection.command(["HGETALL", nodesKey]).elements
            var index = 0
            while index + 1 < all.count {
                if let id = all[index].text, let json = all[index + 1].text, let node = RedisLog.parseNode(id, json) {
                    if now - node.lastSeen <= RedisLog.nodeExpiryMs { table.append(node) }
                }
                index += 2
            }
            let live = Set(table.map(\.nodeId))
            let watchers = try connection.command(["HGETALL", presenceKey]).elements
            index = 0
            while index + 1 < watchers.count {
                if let id = watchers[index].text, id != nodeId, live.contains(id), case .string(let bytes) = watchers[index + 1] {
                    others[id] = bytes
                }
                index += 2
            }
            ok = true
        } catch {
            ok = false
        }
        let changed: Bool = lock.withLock {
            let before = writerHealthy
            writerHealthy = ok
            leader = ok && isLeader
            if ok {
                nodeTable = table.sorted { $0.nodeId < $1.nodeId }
                if others != remotePresence {
                    remotePresence = others
                    remotePresenceChanged = true
                }
            }
            return before != ok || remotePresenceChanged
        }
        if changed { wake() }
    }

    private func leave() {
        guard let connection = try? writerConnection() else { return }
        _ = try? connection.command(["HDEL", nodesKey, nodeId])
        _ = try? connection.command(["HDEL", presenceKey, nodeId])
        let script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
        _ = try? connection.command(["EVAL", script, "1", leaseKey, instance])
    }

    static func parseNode(_ id: String, _ json: String) -> ClusterNodeInfo? {
        func number(_ key: String) -> Int64? {
            guard let range = json.range(of: "\"\(key)\":") else { return nil }
            let digits = json[range.upperBound...].prefix { $0 == "-" || $0.isNumber }
            return Int64(digits)
        }
        guard let connections = number("connections"), let sessions = number("sessions"),
              let lastSeen = number("lastSeen") else { return nil }
        return ClusterNodeInfo(nodeId: id, connections: Int(connections), sessions: Int(sessions), lastSeen: lastSeen)
    }

    // MARK: Reader thread

    private func runReader() {
        var backoffMs = 50
        var fresh = true
        var lastGapCheck: Double = 0
        while !lock.withLock({ closing }) {
            do {
                let connection: RedisConnection
                if let reader, reader.isOpen {
                    connection = reader
                } else {
                    connection = try RedisConnection(url, timeoutMs: 2000)
                    connection.setTimeout(ms: 3000)
                    reader = connection
                    fresh = true
                }
                let from: String = lock.withLock { lastId }
                let now = JournalWriter.monotonicSeconds()
                if fresh || now - lastGapCheck >= 5 {
                    fresh = false
                    lastGapCheck = now
                    try checkGap(connection, after: from)
                }
                let reply = try connection.command(["XREAD", "COUNT", "1000", "BLOCK", "500", "STREAMS", streamKey, from])
                if case .error(let text) = reply { throw StoreError(message: "redis XREAD: \(text)") }
                var batch: [ClusterLogEntry] = []
                var newest = from
                for stream in reply.elements {
                    guard stream.elements.count == 2 else { continue }
                    for item in stream.elements[1].elements {
                        if let id = item.elements.first?.text { newest = id }
                        if let entry = RedisLog.parse(item) { batch.append(entry) }
                    }
                }
                let recovered: Bool = lock.withLock {
                    lastId = newest
                    arrived.append(contentsOf: batch)
                    defer { readerHealthy = true }
                    return !readerHealthy
                }
                backoffMs = 50
                if !batch.isEmpty || recovered { wake() }
            } catch {
                reader?.close()
                reader = nil
                let changed: Bool = lock.withLock {
                    defer { readerHealthy = false }
                    return readerHealthy
                }
                if changed { wake() }
                usleep(UInt32(backoffMs) * 1000)
                backoffMs = min(backoffMs * 2, 1000)
            }
        }
        reader?.close()
    }
}

extension RedisLog {
    /// Whether entries after `from` were trimmed before this node read them
    /// (it fell more than a checkpoint interval behind): then its state can
    /// no longer match the cluster's, and it reports unhealthy until restarted.
    fileprivate func checkGap(_ connection: RedisConnection, after from: String) throws(StoreError) {
        let info = try connection.command(["XINFO", "STREAM", streamKey]).elements
        var index = 0
        while index + 1 < info.count {
            if info[index].text == "max-deleted-entry-id", let deleted = info[index + 1].text,
               RedisLog.isAfter(deleted, from) {
                lock.withLock { behind = true }
                throw StoreError(message: "this node missed log entries trimmed after \(from): restart it")
            }
            index += 2
        }
    }
}

/// Wall-clock milliseconds (the node table's `lastSeen`), without the Hub's clock.
enum WallClockMs {
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
