import Hub
import Logging
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Server {
    /// Opens the cluster log (`store.kind` redis): checks that Redis makes
    /// every acknowledged write durable, rebuilds every session from the
    /// log, then starts the reader and writer threads, whose records wake
    /// this loop like the journal's commits do.
    func openCluster(context: OpaquePointer) throws {
        // Every node would send every delivery: outbound webhooks need one
        // sender per cluster, which this version does not elect yet.
        guard config.webhooks.endpoints.isEmpty else {
            throw StartError(message: "invalid config key webhooks.endpoints: outbound webhooks are not supported with store.kind redis yet",
                             exitCode: 78)
        }
        guard let url = RedisURL(config.store.url) else {
            throw StartError(message: "invalid config key store.url: expected redis://host[:port][/db], got \(config.store.url)",
                             exitCode: 78)
        }
        let nodeId = config.cluster.nodeId ?? Server.hostname() + ":" + String(port)
        let log: RedisLog
        do {
            log = try RedisLog(url: url, nodeId: nodeId, replicas: config.store.redisReplicas,
                               wake: { [waker = ContextWaker(context: context)] in waker.wake() })
        } catch {
            throw StartError(message: "store.url: \(error.message)")
        }
        do { try log.checkDurability() } catch {
            throw StartError(message: "store: \(error.message)", exitCode: 78)
        }
        let cluster = ClusterState(log: log)
        hub.cluster = cluster
        do {
            let (checkpoint, entries) = try log.load()
            try hub.restoreCluster(checkpoint: checkpoint, entries: entries)
            logger.info("cluster log opened", metadata: ["url": "\(url.host):\(url.port)/\(url.db)", "node": "\(nodeId)",
                                                         "checkpoint": "\(checkpoint?.id ?? "none")", "records": "\(entries.count)", "sessions": "\(hub.sessionCount)"])
        } catch {
            throw StartError(message: "store: \(error.message)")
        }
        log.start()
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }
}
