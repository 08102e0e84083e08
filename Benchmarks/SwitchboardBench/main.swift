#if canImport(Glibc)
import Glibc
#endif

// SwitchboardBench: the load generator of `make bench`.
//
//   SwitchboardBench [--quick | --smoke] [--runs N] [--scenarios a,b,c,d]
//                    [--peers switchboard,nchan,lws-fanout,lws-fanout-b16]
//                    [--hub-bin PATH] [--lws-bin PATH] [--nchan-conf PATH] [--work-dir DIR]
//                    [--ws-client raw|lws]
//
// Scenarios (BENCHMARKS.md): (a) fan-out 1 session × 1,000 subscribers;
// (e) the (b) shape fed by closed-loop publishers (1, 8, 64 connections, one
// input in flight each; `--scenarios e`, not in the default set);
// (b) webhook ingest, 1,000 sessions × 2 subscribers + 5 dashboards, rising
// rates until p99 > 50 ms; (c) 20,000 idle connections, RSS per connection;
// (d) durable ingest (SQLite journal), inputs/s with p99; (v) the (d) load over
// 64 connections against variants of the hub (`--variants`), interleaved in
// every run, each paired with the default. Every peer runs in every run, one
// after the other, so ratios come from the same conditions.
//
//   --variants default,no-checkpoint-timer,webhook,before  [--state-every N]
//     no-checkpoint-timer: store.checkpointIntervalMs 0 (the size trigger only)
//     webhook: one outbound endpoint (nginx answering 204) on call.state
//     before: the binary given by --hub-bin-before, default configuration

signal(SIGPIPE, SIG_IGN)

var args = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
let smoke = args.contains("--smoke")
let quick = args.contains("--quick")
if args.contains("--help") || args.contains("-h") {
    say("usage: SwitchboardBench [--quick | --smoke] [--runs N] [--scenarios a,b,c,d] [--peers "
          + Peer.allCases.map(\.rawValue).joined(separator: ",") + "] [--hub-bin PATH] [--lws-bin PATH] "
          + "[--nchan-conf PATH] [--work-dir DIR] [--step-seconds S] [--durable-rates R1,R2,...] [--ws-client raw|lws] "
          + "[--variants default,no-checkpoint-timer,webhook,before] [--state-every N] [--hub-bin-before PATH] [--quiet]")
    exit(0)
}
var shape = smoke ? Shape.smoke : quick ? Shape.quick : Shape.full
let runs = Int(option("--runs") ?? "") ?? (smoke || quick ? 1 : 3)
let scenarios = Set((option("--scenarios") ?? "a,b,c,d").split(separator: ",").map(String.init))
var paths = BenchPaths()
if let v = option("--hub-bin") { paths.hubBinary = v }
if let v = option("--lws-bin") { paths.lwsBinary = v }
if let v = option("--nchan-conf") { paths.nchanConf = v }
if let v = option("--work-dir") { paths.workDir = v }
if let v = option("--idle-connections") { shape.idleConnections = Int(v) ?? shape.idleConnections }
if let v = option("--fanout") { shape.fanoutSubscribers = Int(v) ?? shape.fanoutSubscribers }
// For profiling one load: e.g. `--scenarios d --durable-rates 15000 --step-seconds 20`.
if let v = option("--step-seconds") { shape.stepSeconds = Double(v) ?? shape.stepSeconds }
if let v = option("--ws-client") {
    guard v == "raw" || v == "lws" else { say("--ws-client is raw or lws"); exit(2) }
    shape.rawFraming = v == "raw"
}
if let v = option("--durable-rates") {
    let rates = v.split(separator: ",").compactMap { Double($0) }
    if !rates.isEmpty { shape.durableRates = rates }
}

@MainActor func available(_ peer: Peer) -> Bool {
    switch peer {
    case .hub: return access(paths.hubBinary, X_OK) == 0
    case .nchan: return access(paths.nginx, X_OK) == 0 && access("/usr/lib/nginx/modules/ngx_nchan_module.so", R_OK) == 0
    case .lws, .lwsBatched: return access(paths.lwsBinary, X_OK) == 0
    }
}
let requested = (option("--peers").map { $0.split(separator: ",").compactMap { Peer(rawValue: String($0)) } }) ?? Peer.allCases
let peers = requested.filter { peer in
    if available(peer) { return true }
    say("skipping \(peer.rawValue): not installed / not built")
    return false
}
guard peers.contains(.hub) else { say("the hub binary \(paths.hubBinary) is missing"); exit(1) }

let fileLimit = raiseFileLimit(to: 100_000)
Launch.mkdirs(paths.workDir)
let secrets = Secrets()
let runner = Runner(shape: shape, paths: paths, secrets: secrets, verbose: !args.contains("--quiet"))

@MainActor func machine() -> String {
    var uts = utsname()
    uname(&uts)
    let kernel = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    let model = (ProcStats.read("/proc/cpuinfo") ?? "").split(separator: "\n")
        .first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingSpaces } ?? "?"
    return "\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cpus, \(model), kernel \(kernel), load \(ProcStats.loadAverage()), nofile \(fileLimit)"
}
say("SwitchboardBench: \(smoke ? "smoke" : quick ? "quick" : "full"), \(runs) run(s), scenarios \(scenarios.sorted().joined(separator: ",")), peers \(peers.map(\.rawValue).joined(separator: ","))")
say("machine: \(machine())")

let variantNames = (option("--variants") ?? "default,no-checkpoint-timer,webhook").split(separator: ",").map(String.init)
for name in variantNames where !["default", "no-checkpoint-timer", "webhook", "before"].contains(name) {
    say("unknown variant \(name)"); exit(2)
}
/// (v): every n-th input of a session changes its callState (`--state-every`, default 10).
let stateEvery = max(1, Int(option("--state-every") ?? "") ?? 10)
if variantNames.contains("before") && option("--hub-bin-before") == nil { say("variant before needs --hub-bin-before"); exit(2) }
/// Figures of scenario (v): metric -> variant -> [value per run].
var variantFigures: [String: [String: [Double]]] = [:]

// Figures per run: metric -> peer -> [value per run].
var figures: [String: [Peer: [Double]]] = [:]
@MainActor func record(_ metric: String, _ peer: Peer, _ value: Double) { figures[metric, default: [:]][peer, default: []].append(value) }
var payload = 0    // the hub's mean frame size; the peers' messages match it
var failures: [String] = []
var loads: [String] = []

for run in 1...runs {
    say("== run \(run)/\(runs), load \(ProcStats.loadAverage())")
    loads.append(ProcStats.loadAverage())
    let tag = "r\(run)"
    if scenarios.contains("a") {
        say("  (a) fan-out: 1 session × \(shape.fanoutSubscribers) subscribers")
        var keptUp: [Peer: [Step]] = [:]
        for peer in peers {
            let r = runner.fanout(peer, payload: payload > 0 ? payload : 1100, tag: tag + "a")
            keptUp[peer] = r.steps.filter(\.keptUp)
            if peer == .hub && r.frameBytes > 0 { payload = r.frameBytes }
            if let best = r.best {
                record("a.frames", peer, best.delivered)
                record("a.p99", peer, best.p99)
                record("a.cpu", peer, best.serverCPU)
                record("a.gencpu", peer, best.generatorCPU)
                say("    \(peer.rawValue): \(human(best.delivered)) frames/s at \(fmt(best.rate, 0)) inputs/s, p99 \(fmt(best.p99, 2)) ms, cpu \(fmt(best.serverCPU, 0))%")
            } else {
                failures.append("(a) \(peer.rawValue) run \(run): no rate kept up")
            }
            if peer == .hub && r.steps.allSatisfy({ $0.frames == 0 }) { failures.append("(a) hub delivered no frames") }
        }
        if payload > 0 { say("    (peers publish \(payload)-byte messages, the hub's mean state_change size)") }
        // The same load for everyone: the highest step of the common ladder
        // that every peer kept up with, and what each server spent per frame.
        let common = keptUp.values.map { Set($0.map(\.rate)) }.reduce(nil as Set<Double>?) { $0?.intersection($1) ?? $1 }
        if let rate = common?.max() {
            for (peer, steps) in keptUp {
                guard let s = steps.first(where: { $0.rate == rate }), s.delivered > 0 else { continue }
                record("a.usPerFrame", peer, s.serverCPU * 10_000 / s.delivered)
                record("a.commonRate", peer, rate)
            }
            say("    at \(fmt(rate, 0)) inputs/s (every peer kept up): server CPU µs per frame "
                  + keptUp.keys.sorted { $0.rawValue < $1.rawValue }.compactMap { peer in
                      figures["a.usPerFrame"]?[peer]?.last.map { "\(peer.rawValue) \(fmt($0, 2))" } }.joined(separator: ", "))
        }
    }
    if scenarios.contains("b") {
        say("  (b) ingest: \(shape.ingestSessions) sessions × \(shape.ingestSubscribersPerSession) subscribers + \(shape.dashboards) dashboards (hub)")
        for peer in peers where peer != .lwsBatched {
            let steps = runner.ingest(peer, payload: payload > 0 ? payload : 1100, tag: tag + "b")
            let ok = steps.filter { $0.keptUp }
            record("b.maxrate", peer, ok.last?.rate ?? 0)
            if let at5k = steps.first(where: { $0.rate == 5000 }) {
                record("b.p99@5k", peer, at5k.p99)
                record("b.p999@5k", peer, at5k.p999)
                record("b.cpu@5k", peer, at5k.serverCPU)
            }
            say("    \(peer.rawValue): max rate with p99 <= 50 ms: \(human(ok.last?.rate ?? 0))/s"
                  + (steps.first(where: { $0.rate == 5000 }).map { ", p99 at 5k/s \(fmt($0.p99, 2)) ms" } ?? ""))
            if peer == .hub && steps.allSatisfy({ $0.frames == 0 }) { failures.append("(b) hub delivered no frames") }
        }
    }
    if scenarios.contains("c") {
        say("  (c) idle: \(shape.idleConnections) connections")
        for peer in peers where peer != .lwsBatched {
            let r = runner.idle(peer, tag: tag + "c")
            if r.connections < shape.idleConnections { failures.append("(c) \(peer.rawValue) run \(run): only \(r.connections) connected") }
            record("c.kbPerConn", peer, r.perConnKB)
        }
    }
    if scenarios.contains("d") {
        say("  (d) durable ingest (SQLite journal): \(shape.durableSessions) sessions × 1 subscriber")
        for (connections, suffix) in [(shape.httpConnectionsDurable, ""), (shape.httpConnectionsDurableWide, ".wide")] {
            let steps = runner.durable(tag: tag + "d" + suffix, connections: connections)
            let ok = steps.filter { $0.keptUp }
            record("d.inputs" + suffix, .hub, ok.last?.achieved ?? 0)
            record("d.ackP99" + suffix, .hub, ok.last?.ackP99 ?? .nan)
            if suffix.isEmpty { record("d.p99", .hub, ok.last?.p99 ?? .nan) }
            say("    switchboard, \(connections) connections: \(human(ok.last?.achieved ?? 0)) durable inputs/s, "
                  + "ack p99 \(fmt(ok.last?.ackP99 ?? .nan, 2)) ms")
            if steps.allSatisfy({ $0.frames == 0 }) { failures.append("(d) hub delivered no frames") }
        }
    }
    if scenarios.contains("e") {
        say("  (e) closed-loop publishers: \(shape.ingestSessions) sessions × \(shape.ingestSubscribersPerSession) subscribers, "
              + "one input in flight per connection")
        for connections in [1, 8, 64] {
            for peer in peers where peer != .lwsBatched {
                let s = runner.closedLoop(peer, payload: payload > 0 ? payload : 1100, connections: connections,
                                          tag: tag + "e\(connections)")
                record("e.rate.\(connections)", peer, s.errors == 0 ? s.achieved : 0)
                record("e.ackP50.\(connections)", peer, s.ackP50)
                record("e.ackP99.\(connections)", peer, s.ackP99)
                record("e.p99.\(connections)", peer, s.p99)
                record("e.usPerInput.\(connections)", peer, s.achieved > 0 ? s.serverCPU * 10_000 / s.achieved : .nan)
                say("    \(peer.rawValue), \(connections) connection(s): \(human(s.achieved)) inputs/s, ack p50 \(fmt(s.ackP50, 2)) "
                      + "p99 \(fmt(s.ackP99, 2)) ms, delivery p99 \(fmt(s.p99, 2)) ms"
                      + (s.errors > 0 ? ", \(s.errors) errors (last: \(s.lastError))" : ""))
                if peer == .hub && s.frames == 0 { failures.append("(e) hub delivered no frames") }
            }
        }
    }
    if scenarios.contains("v") {
        say("  (v) durable ingest variants, \(shape.httpConnectionsDurable) connections, a callState change every "
              + "\(stateEvery) input(s) of a session: \(variantNames.joined(separator: ", "))")
        for name in variantNames {
            var variant = HubVariant(name: name)
            var receiver: ServerProcess?
            switch name {
            case "no-checkpoint-timer": variant.checkpointIntervalMs = 0
            case "webhook":
                receiver = runner.startReceiver(tag: tag + "v")
                variant.webhookURL = "http://127.0.0.1:\(receiver!.port)/hook"
            case "before":
                variant.binary = option("--hub-bin-before")
                variant.signsV1 = true
            default: break
            }
            let steps = runner.durable(tag: tag + "v-" + name, connections: shape.httpConnectionsDurable, variant: variant,
                                        changesStateEvery: stateEvery)
            var deliveries = ""
            if let receiver {
                receiver.stop()
                let log = Launch.readFile(receiver.dir + "/access.log")
                let received = log.split(separator: "\n").count
                deliveries = ", \(received) webhook deliveries received"
                if received == 0 { failures.append("(v) webhook: the receiver got no deliveries") }
            }
            let ok = steps.filter { $0.keptUp }
            variantFigures["v.inputs", default: [:]][name, default: []].append(ok.last?.achieved ?? 0)
            variantFigures["v.ackP99", default: [:]][name, default: []].append(ok.last?.ackP99 ?? .nan)
            variantFigures["v.cpuPerInput", default: [:]][name, default: []].append(
                ok.last.map { $0.serverCPU * 10_000 / max(1, $0.achieved) } ?? .nan)
            // The first step's rate is below every variant's limit: its CPU
            // per input and ack p99 compare the same load, where the kept-up
            // maximum mostly measures what else the machine was doing.
            variantFigures["v.cpuAtFirst", default: [:]][name, default: []].append(
                steps.first.map { $0.serverCPU * 10_000 / max(1, $0.achieved) } ?? .nan)
            variantFigures["v.ackP99AtFirst", default: [:]][name, default: []].append(steps.first?.ackP99 ?? .nan)
            say("    \(name): \(human(ok.last?.achieved ?? 0)) durable inputs/s, ack p99 \(fmt(ok.last?.ackP99 ?? .nan, 2)) ms\(deliveries)")
            if steps.allSatisfy({ $0.frames == 0 }) { failures.append("(v) \(name) delivered no frames") }
        }
    }
}

// MARK: - Table

@MainActor func sorted(_ v: [Double]) -> [Double] { v.filter { $0.isFinite }.sorted() }
@MainActor func triple(_ v: [Double]?, _ d: Int = 1) -> String {
    guard let s = v.map(sorted), !s.isEmpty else { return "-" }
    let med = s[s.count / 2]
    if s.count == 1 { return d == 0 ? human(med) : fmt(med, d) }
    let f = { (x: Double) in d == 0 ? human(x) : fmt(x, d) }
    return "\(f(med)) (\(f(s.first!))–\(f(s.last!)))"
}
/// Ratio hub/peer per run, then median (min–max).
@MainActor func ratio(_ metric: String, _ peer: Peer) -> String {
    guard let hub = figures[metric]?[.hub], let other = figures[metric]?[peer] else { return "-" }
    let r = zip(hub, other).compactMap { $1 > 0 && $0.isFinite && $1.isFinite ? $0 / $1 : nil }
    return r.isEmpty ? "-" : triple(r, 2) + "×"
}
let rows: [(String, String, Int)] = [
    ("a.frames", "(a) delivered frames/s, 1×1000 fan-out", 0),
    ("a.p99", "(a) p99 ms at that rate", 2),
    ("a.cpu", "(a) server CPU % at that rate", 0),
    ("a.gencpu", "(a) generator CPU % at that rate", 0),
    ("a.commonRate", "(a) highest input rate every peer kept up", 0),
    ("a.usPerFrame", "(a) server CPU µs per delivered frame at that common rate", 2),
    ("b.maxrate", "(b) max inputs/s with p99 <= 50 ms", 0),
    ("b.p99@5k", "(b) p99 ms at 5,000 inputs/s", 2),
    ("b.p999@5k", "(b) p99.9 ms at 5,000 inputs/s", 2),
    ("b.cpu@5k", "(b) server CPU % at 5,000 inputs/s", 0),
    ("c.kbPerConn", "(c) server RSS KB per idle connection", 2),
    ("e.rate.1", "(e) closed loop, 1 connection: inputs/s", 0),
    ("e.ackP50.1", "(e) closed loop, 1 connection: answer p50 ms", 3),
    ("e.ackP99.1", "(e) closed loop, 1 connection: answer p99 ms", 2),
    ("e.rate.8", "(e) closed loop, 8 connections: inputs/s", 0),
    ("e.ackP99.8", "(e) closed loop, 8 connections: answer p99 ms", 2),
    ("e.rate.64", "(e) closed loop, 64 connections: inputs/s", 0),
    ("e.ackP99.64", "(e) closed loop, 64 connections: answer p99 ms", 2),
    ("e.p99.64", "(e) closed loop, 64 connections: delivery p99 ms", 2),
    ("e.usPerInput.64", "(e) closed loop, 64 connections: server CPU µs per input", 2),
    ("d.inputs", "(d) durable inputs/s (kept up), \(shape.httpConnectionsDurable) connections", 0),
    ("d.ackP99", "(d) ack p99 ms at that rate", 2),
    ("d.p99", "(d) delivery p99 ms at that rate", 2),
    ("d.inputs.wide", "(d) durable inputs/s, \(shape.httpConnectionsDurableWide) connections", 0),
    ("d.ackP99.wide", "(d) ack p99 ms at that rate, \(shape.httpConnectionsDurableWide) connections", 2),
]
var table = "| figure, median (min–max) of \(runs) run(s) | " + peers.map(\.rawValue).joined(separator: " | ")
let ratioPeers = peers.filter { $0 != .hub }
table += " | " + ratioPeers.map { "hub / \($0.rawValue)" }.joined(separator: " | ") + " |\n"
table += "|---|" + String(repeating: "---|", count: peers.count + ratioPeers.count) + "\n"
for (metric, label, d) in rows where figures[metric] != nil {
    table += "| \(label) | " + peers.map { triple(figures[metric]?[$0], d) }.joined(separator: " | ")
    table += " | " + ratioPeers.map { ratio(metric, $0) }.joined(separator: " | ") + " |\n"
}
say("")
say(table)
if !variantFigures.isEmpty {
    var t = "| (v) figure, median (min–max) of \(runs) run(s) | " + variantNames.joined(separator: " | ")
    let others = variantNames.filter { $0 != "default" }
    let paired = variantNames.contains("default")
    if paired { t += " | " + others.map { "\($0) / default" }.joined(separator: " | ") }
    t += " |\n|---|" + String(repeating: "---|", count: variantNames.count + (paired ? others.count : 0)) + "\n"
    let first = human(shape.durableRates[0])
    for (metric, label, d) in [("v.cpuAtFirst", "server CPU µs per input at \(first) inputs/s", 2),
                               ("v.ackP99AtFirst", "ack p99 ms at \(first) inputs/s", 2),
                               ("v.inputs", "durable inputs/s (kept up)", 0), ("v.ackP99", "ack p99 ms at that rate", 2),
                               ("v.cpuPerInput", "server CPU µs per input at that rate", 2)] {
        let byName = variantFigures[metric] ?? [:]
        t += "| \(label) | " + variantNames.map { triple(byName[$0], d) }.joined(separator: " | ")
        if paired, let base = byName["default"] {
            t += " | " + others.map { name in
                let r = zip(byName[name] ?? [], base).compactMap { $1 > 0 && $0.isFinite && $1.isFinite ? $0 / $1 : nil }
                return r.isEmpty ? "-" : triple(r, 2) + "×"
            }.joined(separator: " | ")
        }
        t += " |\n"
    }
    say("")
    say(t)
    table += "\n" + t
}
say("load averages at the start of each run: \(loads.joined(separator: "; ")); now \(ProcStats.loadAverage())")

@MainActor func median(_ metric: String, _ peer: Peer) -> Double? {
    guard let s = figures[metric]?[peer].map(sorted), !s.isEmpty else { return nil }
    return s[s.count / 2]
}
@MainActor func ratioMedian(_ metric: String, _ peer: Peer) -> Double? {
    guard let hub = figures[metric]?[.hub], let other = figures[metric]?[peer] else { return nil }
    let r = sorted(zip(hub, other).compactMap { $1 > 0 ? $0 / $1 : nil })
    return r.isEmpty ? nil : r[r.count / 2]
}
if !smoke {
    say("targets (issue 10):")
    func verdict(_ ok: Bool?) -> String { ok.map { $0 ? "met" : "NOT met" } ?? "not measured" }
    say("  (a) >= 1.5× nchan frames/s: \(ratioMedian("a.frames", .nchan).map { fmt($0, 2) + "×" } ?? "-") -> \(verdict(ratioMedian("a.frames", .nchan).map { $0 >= 1.5 }))")
    say("  (a) >= 80 % of lws reference: \(ratioMedian("a.frames", .lws).map { fmt($0 * 100, 0) + " %" } ?? "-") -> \(verdict(ratioMedian("a.frames", .lws).map { $0 >= 0.8 }))")
    say("  (b) p99 < 10 ms at 5,000 inputs/s: \(median("b.p99@5k", .hub).map { fmt($0, 2) + " ms" } ?? "-") -> \(verdict(median("b.p99@5k", .hub).map { $0 < 10 }))")
    say("  (c) < 8 KB RSS per idle connection: \(median("c.kbPerConn", .hub).map { fmt($0, 2) + " KB" } ?? "-") -> \(verdict(median("c.kbPerConn", .hub).map { $0 < 8 }))")
    say("  (d) >= 20,000 durable inputs/s: \(median("d.inputs", .hub).map(human) ?? "-") -> \(verdict(median("d.inputs", .hub).map { $0 >= 20_000 }))")
}
Launch.writeFile(paths.workDir + "/results.md", "machine: \(machine())\n\n" + table)
say("table written to \(paths.workDir)/results.md")
if !failures.isEmpty {
    say("problems:\n  " + failures.joined(separator: "\n  "))
    // Smoke mode checks that it works, never how fast: only a hub that
    // delivered nothing fails it.
    if failures.contains(where: { $0.contains("hub delivered no frames") }) { exit(1) }
}
exit(0)

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
