import Histogram
#if canImport(Glibc)
import Glibc
#endif

/// One measured step (a rate) of a scenario.
struct Step {
    var rate: Double
    var achieved: Double           // inputs/s answered 2xx
    var delivered: Double          // stamped frames/s received
    var expectedFrames: Int
    var frames: Int
    var p50: Double, p99: Double, p999: Double, max: Double   // delivery latency, ms
    var ackP99: Double                                          // HTTP answer latency, ms
    var ackP50 = 0.0
    var serverCPU: Double, generatorCPU: Double                 // % of one core
    var rssMB: Double
    var errors: Int
    /// The last error seen: an HTTP status, or "connection closed".
    var lastError = ""
    var keptUp: Bool

    var line: String {
        "rate \(human(rate))/s in \(human(achieved))/s frames \(human(delivered))/s "
            + "p50 \(fmt(p50, 2)) p99 \(fmt(p99, 2)) p99.9 \(fmt(p999, 2)) max \(fmt(max, 1)) ms ack-p99 \(fmt(ackP99, 2)) ms "
            + "cpu \(fmt(serverCPU, 0))% gen \(fmt(generatorCPU, 0))% rss \(fmt(rssMB, 0)) MB err \(errors)"
            + (errors > 0 ? " (last: \(lastError))" : "")
            + (keptUp ? "" : "  <- behind (\(frames) of \(expectedFrames) frames)")
    }
}

/// Sizes and durations: full, `--quick`, `--smoke`.
struct Shape {
    var fanoutSubscribers = 1000
    var ingestSessions = 1000
    var ingestSubscribersPerSession = 2
    var dashboards = 5
    /// 20,000 asked; this container caps RLIMIT_NOFILE at 20,000 (hard, no
    /// CAP_SYS_RESOURCE), so a server can hold ~19,900 sockets at most.
    var idleConnections = 19_500
    var durableSessions = 1000
    var stepSeconds = 3.0
    var ingestRates: [Double] = [500, 1000, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000]
    var durableRates: [Double] = [5000, 7500, 10_000, 12_500, 15_000, 17_500, 20_000, 22_500, 25_000, 30_000]
    var fanoutStartRate = 25.0
    var fanoutMaxSteps = 16
    var bisectSteps = 2
    /// Keep-alive connections the webhooks come over, in (b) and (d). The
    /// hub's own view behind the shipped nginx config (`keepalive 32` idle
    /// upstream connections, more while busy) is a pool of this order.
    var httpConnectionsIngest = 64
    var httpConnectionsDurable = 64
    /// (d) once more over this many connections: the cost of a wide pool
    /// (libwebsockets keeps each connection's timeout in one sorted list).
    var httpConnectionsDurableWide = 256
    /// Subscribers parse frames with `FrameReader` (true) or with
    /// libwebsockets' client (`--ws-client lws`).
    var rawFraming = true

    static let full = Shape()
    static var quick: Shape {
        var s = Shape()
        s.stepSeconds = 2
        s.ingestRates = [1000, 2500, 5000, 7500, 10_000, 15_000, 20_000]
        s.durableRates = [10_000, 20_000, 30_000, 40_000]
        s.bisectSteps = 1
        return s
    }
    static var smoke: Shape {
        var s = Shape()
        s.fanoutSubscribers = 20
        s.ingestSessions = 20
        s.dashboards = 1
        s.idleConnections = 200
        s.durableSessions = 20
        s.stepSeconds = 0.5
        s.ingestRates = [100, 200]
        s.durableRates = [100, 200]
        s.fanoutStartRate = 50
        s.fanoutMaxSteps = 2
        s.bisectSteps = 0
        s.httpConnectionsIngest = 4
        s.httpConnectionsDurable = 8
        s.httpConnectionsDurableWide = 16
        return s
    }
}

/// Runs the scenarios against one started server.
struct Runner {
    let shape: Shape
    let paths: BenchPaths
    let secrets: Secrets
    let verbose: Bool

    func log(_ s: String) { if verbose { say(s) } }

    /// Opens `targets` and waits until they are all ready (or time runs out).
    func connect(_ ws: WSLoad, _ targets: [WSLoad.Target], seconds: Double = 180) -> Int {
        ws.open(targets)
        let deadline = Clock.monoUs() + UInt64(seconds * 1e6)
        var last = (ready: 0, failed: 0, closed: 0, frames: 0)
        while Clock.monoUs() < deadline {
            last = ws.peekCounts()
            if last.ready + last.failed >= targets.count { break }
            Clock.sleep(seconds: 0.05)
        }
        if last.failed > 0 || last.ready < targets.count {
            say("  warning: \(last.ready)/\(targets.count) connections ready, \(last.failed) failed, \(last.closed) closed")
        }
        return last.ready
    }

    /// One open-loop step: `rate` inputs/s for `shape.stepSeconds`, then the
    /// frames still in flight are waited for.
    /// - Parameter stateChanges: for the hub, a reader of how many inputs
    ///   changed state so far: an input that arrives after a later one of
    ///   the same session (several connections in flight) loses
    ///   last-writer-wins and rightly sends no frame, so it is not expected.
    func step(rate: Double, http: HTTPLoad, ws: WSLoad, adapter: inout Adapter, sessions: Int, fanout: Int,
              server: ServerProcess, maxP99Ms: Double, seconds: Double? = nil,
              stateChanges: (() -> Int?)? = nil, closedLoop: Bool = false) -> Step {
        let duration = seconds ?? shape.stepSeconds
        let changes0 = stateChanges?()
        _ = ws.takeStats()
        let pids = server.pids
        let cpu0 = CPUSample(pids)
        let gen0 = CPUSample([getpid()])
        var adapterCopy = adapter
        let result = http.run(rate: rate, seconds: duration, drainSeconds: 3, closedLoop: closedLoop) { n, bts in
            adapterCopy.request(n: n, session: n % sessions, bts: bts)
        }
        adapter = adapterCopy
        let cpu1 = CPUSample(pids)
        let gen1 = CPUSample([getpid()])
        let changes1 = stateChanges?()
        let expected = (changes0.flatMap { c0 in changes1.map { $0 - c0 } } ?? result.completed) * fanout
        // Let what is still queued arrive (bounded): it counts, late.
        var stats = ws.takeStats()
        let settleDeadline = Clock.monoUs() + 3_000_000
        var quiet = 0
        while stats.frames < expected && Clock.monoUs() < settleDeadline && quiet < 10 {
            Clock.sleep(seconds: 0.05)
            let more = ws.takeStats()
            quiet = more.frames == 0 ? quiet + 1 : 0
            stats.frames += more.frames
            stats.stampedBytes += more.stampedBytes
            stats.latency.add(more.latency)
        }
        let ms = { (v: UInt64) in Double(v) / 1000 }
        let p99 = ms(stats.latency.valueAtPercentile(99))
        let kept = result.achievedRate >= 0.95 * rate && stats.frames >= Int(0.99 * Double(expected))
            && p99 <= maxP99Ms && result.errors == 0
        lastMeanFrameBytes = stats.frames > 0 ? stats.stampedBytes / stats.frames : 0
        var step = Step(rate: rate, achieved: result.achievedRate, delivered: Double(stats.frames) / result.seconds,
                    expectedFrames: expected, frames: stats.frames,
                    p50: ms(stats.latency.valueAtPercentile(50)), p99: p99,
                    p999: ms(stats.latency.valueAtPercentile(99.9)), max: ms(stats.latency.max),
                    ackP99: ms(result.ack.valueAtPercentile(99)),
                    serverCPU: cpu1.percent(since: cpu0), generatorCPU: gen1.percent(since: gen0),
                    rssMB: ProcStats.rssKB(pids) / 1024, errors: result.errors, lastError: result.lastErrorStatus, keptUp: kept)
        step.ackP50 = ms(result.ack.valueAtPercentile(50))
        return step
    }

    // MARK: (e) closed-loop publishers

    /// The (b) shape (sessions × subscribers, the hub's dashboards) fed by
    /// `connections` publishers that each wait for their answer before the
    /// next input: a backend that awaits every call. One measured step of
    /// `2 × stepSeconds` per connection count.
    func closedLoop(_ peer: Peer, payload: Int, connections: Int, tag: String) -> Step {
        let server = Launch.start(peer, paths: paths, secrets: secrets, durable: false, tag: tag)
        defer { server.stop() }
        let ws = WSLoad(host: "127.0.0.1", port: server.port, rxBufferSize: 16384, rawFraming: shape.rawFraming)
        ws.start()
        defer { ws.stop() }
        let sessions = shape.ingestSessions
        var adapter = Adapter(peer: peer, secrets: secrets, payloadBytes: payload, sessions: sessions, runTag: tag + "e")
        var targets: [WSLoad.Target] = []
        for s in 0..<sessions { for _ in 0..<shape.ingestSubscribersPerSession { targets.append(adapter.subscriber(session: s)) } }
        if let dash = adapter.dashboard() { targets += Array(repeating: dash, count: shape.dashboards) }
        _ = connect(ws, targets)
        let http = HTTPLoad(host: "127.0.0.1", port: server.port, connections: connections)
        guard http.open() else {
            say("  cannot open HTTP connections")
            return Step(rate: 0, achieved: 0, delivered: 0, expectedFrames: 0, frames: 0, p50: .nan, p99: .nan, p999: .nan,
                        max: .nan, ackP99: .nan, serverCPU: .nan, generatorCPU: .nan, rssMB: .nan, errors: 1, keptUp: false)
        }
        _ = step(rate: 0, http: http, ws: ws, adapter: &adapter, sessions: sessions, fanout: shape.ingestSubscribersPerSession,
                 server: server, maxP99Ms: .infinity, seconds: min(1, shape.stepSeconds), closedLoop: true)
        let s = step(rate: 0, http: http, ws: ws, adapter: &adapter, sessions: sessions, fanout: shape.ingestSubscribersPerSession,
                     server: server, maxP99Ms: .infinity, seconds: 2 * shape.stepSeconds, closedLoop: true)
        log("    \(peer.rawValue) (e, \(connections) closed-loop conns) " + s.line + " ack-p50 \(fmt(s.ackP50, 2)) ms")
        return s
    }

    // MARK: (a) fan-out

    /// "Keeps up" in (a): every frame arrives and p99 stays under this. Each
    /// input is a burst of 1,000 frames, and the box is shared with compilers,
    /// so the bound is loose: it separates a queue that drains from one that grows.
    var fanoutMaxP99: Double { 500 }

    /// 1 session × N subscribers: the highest input rate whose frames all
    /// arrive with p99 ≤ `fanoutMaxP99`; geometric ramp, then bisection.
    func fanout(_ peer: Peer, payload: Int, tag: String) -> (best: Step?, steps: [Step], frameBytes: Int) {
        let server = Launch.start(peer, paths: paths, secrets: secrets, durable: false, tag: tag)
        defer { server.stop() }
        let ws = WSLoad(host: "127.0.0.1", port: server.port, rxBufferSize: 65536, rawFraming: shape.rawFraming)
        ws.start()
        defer { ws.stop() }
        var adapter = Adapter(peer: peer, secrets: secrets, payloadBytes: payload, sessions: 1, runTag: tag + "a")
        let n = shape.fanoutSubscribers
        _ = connect(ws, Array(repeating: adapter.subscriber(session: 0), count: n))
        let http = HTTPLoad(host: "127.0.0.1", port: server.port, connections: 8)
        guard http.open() else { say("  cannot open HTTP connections"); return (nil, [], 0) }
        // The session's version counts its state changes (PROTOCOL.md §2.6).
        let dashboardToken = secrets.token(role: "dashboard", sub: "bench-version")
        let version: (() -> Int?)? = peer != .hub ? nil : {
            guard let body = HTTPLoad.get(host: "127.0.0.1", port: server.port, path: "/api/calls/" + Adapter.session(0),
                                          bearer: dashboardToken),
                  let rest = body.suffix(after: #""version":"#) else { return nil }
            return Int(rest.prefix { $0.isNumber })
        }
        // Warm-up (first frames, allocations), not recorded.
        _ = step(rate: shape.fanoutStartRate, http: http, ws: ws, adapter: &adapter, sessions: 1, fanout: n,
                 server: server, maxP99Ms: 100, seconds: min(1, shape.stepSeconds))
        var steps: [Step] = []
        var best: Step?  // the highest input rate that kept up (drives the search)
        var failRate: Double?
        var rate = shape.fanoutStartRate
        var frameBytes = 0
        for _ in 0..<shape.fanoutMaxSteps {
            let s = step(rate: rate, http: http, ws: ws, adapter: &adapter, sessions: 1, fanout: n, server: server,
                         maxP99Ms: fanoutMaxP99, stateChanges: version)
            frameBytes = max(frameBytes, lastMeanFrameBytes)
            log("    \(peer.rawValue) (a) " + s.line)
            steps.append(s)
            if s.keptUp { best = s; rate *= 1.5 } else { failRate = rate; break }
        }
        if var low = best?.rate, var high = failRate {
            for _ in 0..<shape.bisectSteps {
                let mid = (low * high).squareRoot()
                let s = step(rate: mid, http: http, ws: ws, adapter: &adapter, sessions: 1, fanout: n, server: server,
                             maxP99Ms: fanoutMaxP99, stateChanges: version)
                log("    \(peer.rawValue) (a) " + s.line)
                steps.append(s)
                if s.keptUp { best = s; low = mid } else { high = mid }
            }
        }
        // The figure is the most frames/s any kept-up step delivered. For the
        // peers that is the highest rate's step; on the hub a faster input
        // rate can deliver fewer frames, because more inputs arrive behind a
        // later one and lose last-writer-wins.
        let most = steps.filter(\.keptUp).max { $0.delivered < $1.delivered }
        return (most, steps, frameBytes)
    }

    // MARK: (b) ingest

    /// 1,000 sessions × 2 subscribers (+ 5 dashboards on the hub): webhook
    /// ingest at rising rates until p99 passes 50 ms or the rate is not met.
    func ingest(_ peer: Peer, payload: Int, tag: String) -> [Step] {
        let server = Launch.start(peer, paths: paths, secrets: secrets, durable: false, tag: tag)
        defer { server.stop() }
        let ws = WSLoad(host: "127.0.0.1", port: server.port, rxBufferSize: 16384, rawFraming: shape.rawFraming)
        ws.start()
        defer { ws.stop() }
        let sessions = shape.ingestSessions
        var adapter = Adapter(peer: peer, secrets: secrets, payloadBytes: payload, sessions: sessions, runTag: tag + "b")
        var targets: [WSLoad.Target] = []
        for s in 0..<sessions { for _ in 0..<shape.ingestSubscribersPerSession { targets.append(adapter.subscriber(session: s)) } }
        if let dash = adapter.dashboard() { targets += Array(repeating: dash, count: shape.dashboards) }
        _ = connect(ws, targets)
        let http = HTTPLoad(host: "127.0.0.1", port: server.port, connections: shape.httpConnectionsIngest)
        guard http.open() else { say("  cannot open HTTP connections"); return [] }
        _ = step(rate: shape.ingestRates[0], http: http, ws: ws, adapter: &adapter, sessions: sessions,
                 fanout: shape.ingestSubscribersPerSession, server: server, maxP99Ms: 50, seconds: min(1, shape.stepSeconds))
        var steps: [Step] = []
        for rate in shape.ingestRates {
            let s = step(rate: rate, http: http, ws: ws, adapter: &adapter, sessions: sessions,
                         fanout: shape.ingestSubscribersPerSession, server: server, maxP99Ms: 50)
            log("    \(peer.rawValue) (b) " + s.line)
            steps.append(s)
            if !s.keptUp { break }
        }
        return steps
    }

    // MARK: (c) idle memory

    struct Idle { var perConnKB: Double; var kernelPerConnKB: Double; var rssMB: Double; var connections: Int }

    /// N idle subscribers (2 per session on the hub): server RSS growth per connection.
    func idle(_ peer: Peer, tag: String) -> Idle {
        let server = Launch.start(peer, paths: paths, secrets: secrets, durable: false, tag: tag)
        defer { server.stop() }
        Clock.sleep(seconds: 0.5)
        let pids = server.pids
        let base = ProcStats.rssKB(pids)
        let kernelBase = ProcStats.tcpMemPages()
        let ws = WSLoad(host: "127.0.0.1", port: server.port, rxBufferSize: 4096, rawFraming: shape.rawFraming)
        ws.start()
        defer { ws.stop() }
        let adapter = Adapter(peer: peer, secrets: secrets, payloadBytes: 0, sessions: 1, runTag: tag + "c")
        let n = shape.idleConnections
        let targets = (0..<n).map { adapter.subscriber(session: $0 / 2) }
        let ready = connect(ws, targets, seconds: 300)
        Clock.sleep(seconds: 2)
        let rss = ProcStats.rssKB(server.pids)
        let kernel = ProcStats.tcpMemPages()
        let per = ready > 0 ? (rss - base) / Double(ready) : .nan
        // Both ends of each loopback connection are counted by the kernel: half is the server's.
        let kernelPer = ready > 0 ? (kernel - kernelBase) * 4 / 2 / Double(ready) : .nan
        log("    \(peer.rawValue) (c) \(ready) idle connections: rss \(fmt(base / 1024, 1)) -> \(fmt(rss / 1024, 1)) MB, "
            + "\(fmt(per, 2)) KB/connection")
        return Idle(perConnKB: per, kernelPerConnKB: kernelPer, rssMB: rss / 1024, connections: ready)
    }

    // MARK: (v) variants of (d)

    /// A webhook receiver for the `webhook` variant: nginx answering every
    /// POST `204` (a real HTTP/1.1 server that costs the box little).
    func startReceiver(tag: String) -> ServerProcess {
        let dir = paths.workDir + "/" + tag + "-receiver"
        _ = system("rm -rf '\(dir)'")
        Launch.mkdirs(dir + "/logs")
        let port = Launch.freePort()
        Launch.writeFile(dir + "/receiver.conf", """
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log error;
            events { worker_connections 1024; }
            http {
                access_log \(dir)/access.log combined buffer=64k flush=1s;
                keepalive_requests 100000000;
                client_body_temp_path \(dir);
                server { listen 127.0.0.1:\(port); location / { return 204; } }
            }
            """)
        let pid = Launch.spawn([paths.nginx, "-p", dir, "-c", dir + "/receiver.conf", "-g", "daemon off;"],
                               log: dir + "/server.log")
        guard Launch.waitForPort(port, pid: pid) else { fatalError("webhook receiver did not start") }
        return ServerProcess(peer: .nchan, pid: pid, port: port, dir: dir)
    }

    // MARK: (d) durable ingest

    /// The hub with the SQLite journal: inputs/s at rising rates while every
    /// answer still comes after its commit; 1 subscriber per session; the
    /// webhooks come over `connections` keep-alive connections.
    /// - Parameter changesStateEvery: every n-th input of a session changes its `callState` (scenario (v)).
    func durable(tag: String, connections: Int, variant: HubVariant = .default, changesStateEvery: Int = 0) -> [Step] {
        let server = Launch.start(.hub, paths: paths, secrets: secrets, durable: true, tag: tag, variant: variant)
        defer { server.stop() }
        let ws = WSLoad(host: "127.0.0.1", port: server.port, rxBufferSize: 16384, rawFraming: shape.rawFraming)
        ws.start()
        defer { ws.stop() }
        let sessions = shape.durableSessions
        var adapter = Adapter(peer: .hub, secrets: secrets, payloadBytes: 0, sessions: sessions, runTag: tag + "d")
        adapter.changesStateEvery = changesStateEvery
        adapter.signsV1 = variant.signsV1
        _ = connect(ws, (0..<sessions).map { adapter.subscriber(session: $0) })
        let http = HTTPLoad(host: "127.0.0.1", port: server.port, connections: connections)
        guard http.open() else { say("  cannot open HTTP connections"); return [] }
        _ = step(rate: shape.durableRates[0] / 2, http: http, ws: ws, adapter: &adapter, sessions: sessions, fanout: 1,
                 server: server, maxP99Ms: 100, seconds: min(1, shape.stepSeconds))
        var steps: [Step] = []
        for rate in shape.durableRates {
            let s = step(rate: rate, http: http, ws: ws, adapter: &adapter, sessions: sessions, fanout: 1,
                         server: server, maxP99Ms: 100)
            log("    switchboard\(variant.name == "default" ? "" : " [\(variant.name)]") (d, \(connections) conns) " + s.line)
            steps.append(s)
            if !s.keptUp { break }
        }
        return steps
    }
}

/// Mean payload size of the stamped frames of the last step (set by `step`).
nonisolated(unsafe) var lastMeanFrameBytes = 0
