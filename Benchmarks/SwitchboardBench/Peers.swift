import Crypto
import JSONCodec
#if canImport(Glibc)
import Glibc
#endif

/// The servers under test. Each speaks its own publish/subscribe shape; the
/// adapter below turns the generator's "input n for session s, stamped t"
/// into that shape.
enum Peer: String, CaseIterable {
    case hub = "switchboard"
    case nchan = "nchan"
    case lws = "lws-fanout"
    /// lws-fanout with `-b 16`: up to 16 frames pre-framed into one send().
    case lwsBatched = "lws-fanout-b16"
}

/// Where things are and how to start them.
struct BenchPaths {
    var hubBinary = ".build-bench/release/switchboard"
    var lwsBinary = ".build-bench/lws-fanout"
    var nchanConf = "Benchmarks/peers/nchan.conf"
    var nginx = "/usr/sbin/nginx"
    var workDir = "/tmp/switchboard-bench"
}

/// A running server process and its port.
final class ServerProcess {
    let peer: Peer
    let pid: pid_t
    let port: Int
    let dir: String

    init(peer: Peer, pid: pid_t, port: Int, dir: String) {
        self.peer = peer
        self.pid = pid
        self.port = port
        self.dir = dir
    }

    /// The process and its children (nginx's worker).
    var pids: [Int32] { ProcStats.family(pid) }

    func stop() {
        let family = pids
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<60 {
            if waitpid(pid, &status, WNOHANG) == pid { break }
            Clock.sleep(seconds: 0.05)
        }
        for p in family { kill(p, SIGKILL) }
        _ = waitpid(pid, &status, 0)
    }
}

enum Launch {
    /// A free TCP port on 127.0.0.1 (bound once, released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func writeFile(_ path: String, _ text: String) {
        guard let f = fopen(path, "w") else { fatalError("cannot write \(path)") }
        fputs(text, f)
        fclose(f)
    }

    static func mkdirs(_ path: String) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }

    /// Runs `argv` with stdout/stderr into `log`.
    /// - Parameter env: added to the bench's own environment.
    static func spawn(_ argv: [String], log: String, env: [String] = []) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) }
        var inherited = environ
        while let entry = inherited.pointee {
            // The bench's own settings are not the hub's: it refuses any
            // SWITCHBOARD_* variable it does not know.
            if strncmp(entry, "SWITCHBOARD_BENCH_", 18) != 0 { envp.append(strdup(entry)) }
            inherited += 1
        }
        envp.append(nil)
        defer { for p in envp { free(p) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, envp)
        guard rc == 0 else { fatalError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits until something accepts on `port`.
    static func waitForPort(_ port: Int, pid: pid_t, seconds: Double = 20) -> Bool {
        let deadline = Clock.monoUs() + UInt64(seconds * 1e6)
        while Clock.monoUs() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return false }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if ok == 0 { return true }
            Clock.sleep(seconds: 0.05)
        }
        return false
    }

    static func readFile(_ path: String) -> String { ProcStats.read(path) ?? "" }

    /// Starts `peer` in a fresh scratch directory.
    /// - Parameters:
    ///   - durable: the hub with the SQLite journal (`store.kind` sqlite), else memory.
    ///   - lwsBatch: lws-fanout's `-b` (frames per send).
    ///   - variant: for the hub, a binary and configuration other than the default (`--variants`).
    static func start(_ peer: Peer, paths: BenchPaths, secrets: Secrets, durable: Bool, tag: String,
                      lwsBatch: Int = 1, variant: HubVariant = .default) -> ServerProcess {
        let dir = paths.workDir + "/" + tag + "-" + peer.rawValue
        _ = system("rm -rf '\(dir)'")
        mkdirs(dir)
        let port = freePort()
        let pid: pid_t
        switch peer {
        case .hub:
            writeFile(dir + "/hub.json", hubConfig(port: port, secrets: secrets, durable: durable, dir: dir,
                                                   variant: variant))
            pid = spawn([variant.binary ?? paths.hubBinary, "serve", "--config", dir + "/hub.json", "--port", String(port),
                         "--data-dir", dir, "--log-level", getenv("SWITCHBOARD_BENCH_HUB_LOG").map { String(cString: $0) } ?? "error"],
                        log: dir + "/server.log", env: [Launch.hubMallocTunables])
        case .nchan:
            mkdirs(dir + "/body")
            mkdirs(dir + "/logs")
            var conf = readFile(paths.nchanConf)
            conf = conf.replacingAll("__PORT__", with: String(port)).replacingAll("__DIR__", with: dir)
            writeFile(dir + "/nchan.conf", conf)
            pid = spawn([paths.nginx, "-p", dir, "-c", dir + "/nchan.conf", "-g", "daemon off;"], log: dir + "/server.log")
        case .lws, .lwsBatched:
            pid = spawn([paths.lwsBinary, "-p", String(port), "-b", peer == .lwsBatched ? "16" : "1"], log: dir + "/server.log")
        }
        guard waitForPort(port, pid: pid) else {
            fatalError("\(peer.rawValue) did not start; log: \(readFile(dir + "/server.log"))")
        }
        Clock.sleep(seconds: 0.2)
        return ServerProcess(peer: peer, pid: pid, port: port, dir: dir)
    }

    /// The hub runs as `make run` and the container image run it (Makefile
    /// `HUB_ENV`, Dockerfile): with a larger per-thread malloc cache.
    static let hubMallocTunables = "GLIBC_TUNABLES=glibc.malloc.tcache_count=256"

    static func hubConfig(port: Int, secrets: Secrets, durable: Bool, dir: String,
                          variant: HubVariant = .default) -> String {
        let checkpoint = variant.checkpointIntervalMs.map { #", "checkpointIntervalMs": \#($0)"# } ?? ""
        let webhooks = variant.webhookURL.map {
            #""webhooks": {"endpoints": [{"url": "\#($0)", "secret": "\#(secrets.webhook)", "events": ["call.state"]}]},"#
        } ?? ""
        return """
        {
          "server": {"host": "127.0.0.1", "port": \(port), "publicUrl": "http://127.0.0.1:\(port)"},
          "auth": {"hs256Secret": "\(secrets.jwt)", "maxTtlSec": 86400},
          "limits": {"sendQueueBytes": 268435456, "maxConnectionsPerIp": 1000000,
                     "messagesPerSecond": 1000000, "maxErrorsPerMinute": 1000000},
          "merge": {"maxFutureSkewMs": 86400000},
          "retention": {"endedSec": 600, "timelineEntries": 500, "replayFrames": 256},
          "store": {"kind": "\(durable ? "sqlite" : "memory")", "path": "\(dir)/journal.db"\(checkpoint)},
          \(webhooks)
          "providers": {"generic": {"secret": "\(secrets.webhook)"}},
          "shutdown": {"drainSec": 1},
          "publicDir": "public",
          "dataDir": "\(dir)"
        }
        """
    }
}

/// One way of running the hub in scenario (v): the same load against
/// another binary or configuration, interleaved with the default in every
/// run so their ratio comes from the same minutes of a noisy machine.
struct HubVariant {
    var name = "default"
    /// Another build of the hub (`--hub-bin-before`); nil: `--hub-bin`.
    var binary: String?
    /// `store.checkpointIntervalMs`; nil: the binary's default.
    var checkpointIntervalMs: Int?
    /// One outbound webhook endpoint subscribed to `call.state` (PROTOCOL.md §11).
    var webhookURL: String?
    /// The build predates `v2` signatures (`Adapter.signsV1`).
    var signsV1 = false

    static let `default` = HubVariant()
}

/// Shared secrets of one bench run: the hub's JWT key and webhook secret.
struct Secrets {
    let jwt = Crypto.hex(Crypto.randomBytes(32))
    let webhook = Crypto.hex(Crypto.randomBytes(32))

    /// An HS256 token (PROTOCOL.md §5) for every session (`sid` `*`).
    func token(role: String, sub: String) -> String {
        let now = Int64(time(nil))
        let header = Crypto.base64URLEncode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let sid = role == "dashboard" ? "" : #","sid":"*""#
        let claims = #"{"sub":"\#(sub)","role":"\#(role)"\#(sid),"aud":"switchboard","iat":\#(now),"exp":\#(now + 86_000)}"#
        let body = Crypto.base64URLEncode(Array(claims.utf8))
        let signature = Crypto.hmacSHA256(key: Array(jwt.utf8), message: Array((header + "." + body).utf8))
        return header + "." + body + "." + Crypto.base64URLEncode(signature)
    }
}

/// How the generator talks to one peer.
///
/// Requests are assembled as bytes from per-session prefixes, not with
/// `String` interpolation: the generator shares the two cores with the
/// server, and at 15,000 inputs/s building each request from strings was
/// 8 % of a core (about 5.5 µs per request, mostly string growth and
/// bridging), all of it taken from the server under test.
struct Adapter {
    let peer: Peer
    let secrets: Secrets
    /// Peers' payload size, matched to the hub's mean frame size.
    var payloadBytes: Int
    let runTag: String
    private let clientToken: String
    private let dashboardToken: String
    private var lastTs: [Int64]
    /// Event ids stay unique across steps (a repeated id is a duplicate, §2.3).
    private var sequence = 0
    /// Each session's request line and headers up to the `Content-Length` value.
    private let heads: [[UInt8]]
    /// Each session's request path: the v2 signature covers it.
    private let paths: [[UInt8]]
    /// The hub's body up to the event id's sequence number: `{"id":"<runTag>-`.
    private let idPrefix: [UInt8]
    private let webhookKey: [UInt8]
    /// The signature's `t=` in decimal, rebuilt when the second changes.
    private var signedAt = 0
    private var signedAtDigits: [UInt8] = []
    /// Every n-th input of a session also flips its `state` between
    /// `ringing` and `connected` (scenario (v)), a `call.state` change that
    /// an outbound webhook endpoint hears; 0: never.
    var changesStateEvery = 0
    private var inputsPerSession: [Int]
    /// Signs `v1` (`t.body`) instead of `v2`: for builds from before path-bound
    /// signatures (scenario (v), variant `before`).
    var signsV1 = false

    init(peer: Peer, secrets: Secrets, payloadBytes: Int, sessions: Int, runTag: String) {
        self.peer = peer
        self.secrets = secrets
        self.payloadBytes = payloadBytes
        self.runTag = runTag
        clientToken = secrets.token(role: "client", sub: "bench")
        dashboardToken = secrets.token(role: "dashboard", sub: "bench-dash")
        lastTs = Array(repeating: 0, count: max(1, sessions))
        inputsPerSession = Array(repeating: 0, count: max(1, sessions))
        let route = peer == .hub ? "/webhooks/generic/" : "/pub/"
        paths = (0..<max(1, sessions)).map { Array("\(route)\(Self.session($0))".utf8) }
        heads = paths.map {
            Array("POST ".utf8) + $0 + Array(" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ".utf8)
        }
        idPrefix = Array(#"{"id":""#.utf8) + Array(runTag.utf8) + [UInt8(ascii: "-")]
        webhookKey = Array(secrets.webhook.utf8)
    }

    static func session(_ i: Int) -> String { "s" + String(i) }

    func subscriber(session: Int) -> WSLoad.Target {
        switch peer {
        case .hub: return .init(path: "/ws/calls/\(Self.session(session))?token=\(clientToken)", readyOnFirstFrame: true)
        case .nchan, .lws, .lwsBatched: return .init(path: "/sub/\(Self.session(session))", readyOnFirstFrame: false)
        }
    }

    /// The hub's all-sessions stream; the peers have none.
    func dashboard() -> WSLoad.Target? {
        peer == .hub ? .init(path: "/ws/dashboard?token=\(dashboardToken)", readyOnFirstFrame: true) : nil
    }

    /// Input `n` to `session`, stamped `bts` (µs): the hub gets a signed
    /// generic webhook whose metadata carries the stamp (so every input
    /// changes the document and yields one `state_change`); the peers get
    /// an HTTP publish of a message of the hub's frame size.
    mutating func request(n: Int, session: Int, bts: UInt64) -> [UInt8] {
        sequence += 1
        var body: [UInt8] = []
        body.reserveCapacity(max(128, payloadBytes))
        switch peer {
        case .hub:
            // Strictly increasing ts per session: never a same-ms tie.
            let ts = max(Clock.wallMs(), lastTs[session] + 1)
            lastTs[session] = ts
            body += idPrefix
            JSONCodec.writeInt(Int64(sequence), into: &body)
            body += #"","ts":"#.utf8
            JSONCodec.writeInt(Int64(ts), into: &body)
            if changesStateEvery > 0 {
                inputsPerSession[session] += 1
                let n = inputsPerSession[session]
                if n % changesStateEvery == 0 || n == 1 {
                    body += ((n / changesStateEvery) & 1 == 0 ? #","state":"connected""# : #","state":"ringing""#).utf8
                }
            }
            body += #","metadata":{"bts":""#.utf8
            Self.appendStamp(&body, bts)
            body += #""}}"#.utf8
        case .nchan, .lws, .lwsBatched:
            body += #"{"type":"state_change","sessionId":"s"#.utf8
            JSONCodec.writeInt(Int64(session), into: &body)
            body += #"","bts":""#.utf8
            Self.appendStamp(&body, bts)
            body += #"","pad":""#.utf8
            body += repeatElement(UInt8(ascii: "x"), count: max(0, payloadBytes - body.count - 2))
            body += #""}"#.utf8
        }
        var out = heads[session]
        out.reserveCapacity(out.count + body.count + 160)
        JSONCodec.writeInt(Int64(body.count), into: &out)
        if peer == .hub {
            let now = time(nil)
            if now != signedAt {
                signedAt = now
                signedAtDigits = []
                JSONCodec.writeInt(Int64(now), into: &signedAtDigits)
            }
            // The generic provider's path-bound signature (PROTOCOL.md §6 v1.1):
            // HMAC-SHA256 of "<t>.<path>.<body>". v2, not v1: the hub keeps
            // no memory for it, where thousands of v1 per second would fill
            // limits.maxRememberedSignatures.
            let mac = Crypto.HMAC(digest: "SHA256", key: webhookKey)
            mac.update(signedAtDigits)
            mac.update([UInt8(ascii: ".")])
            if !signsV1 {
                mac.update(paths[session])
                mac.update([UInt8(ascii: ".")])
            }
            mac.update(body)
            out += "\r\nX-Switchboard-Signature: t=".utf8
            out += signedAtDigits
            out += (signsV1 ? ",v1=" : ",v2=").utf8
            out += Crypto.hex(mac.finalize()).utf8
        }
        out += "\r\n\r\n".utf8
        out += body
        return out
    }

    /// Fixed width (20 digits), so later stamps also compare greater as strings.
    private static func appendStamp(_ out: inout [UInt8], _ value: UInt64) {
        let before = out.count
        JSONCodec.writeInt(Int64(value), into: &out)
        out.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, 20 - (out.count - before))), at: before)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
