// History queries over a large call archive (PROTOCOL.md §12, issue 25):
// fill a `HistoryArchive` with N simulated ended calls (document, summary
// row, a timeline and quality samples each), then time the reads the hub
// runs on the archive thread for each route, p50 / p99, and the disk per call.
//
//   swift build -c release --product HistoryBench
//   .build/release/HistoryBench [--calls 100000] [--samples 10] [--queries 300] [--dir /tmp] [--optimize]
//
// What is timed is `HistoryArchive` alone (SQL, decoding the stored JSON):
// not HTTP, not the hand-off between the loop and the archive thread, and for
// the summary not the grouping (done in Hub, over the rows this returns).
import CallState
import Foundation
import JSONCodec
import Store

struct Options {
    var calls = 100_000
    var samples = 10
    var queries = 300
    var dir = NSTemporaryDirectory()
    /// Merge the search index after filling (`HistoryArchive.optimizeSearch`).
    var optimize = false

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--calls": calls = iterator.next().flatMap(Int.init) ?? calls
            case "--samples": samples = iterator.next().flatMap(Int.init) ?? samples
            case "--queries": queries = iterator.next().flatMap(Int.init) ?? queries
            case "--dir": dir = iterator.next() ?? dir
            case "--optimize": optimize = true
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let providers = ["twilio", "telnyx", "agora", "elevenlabs", "asterisk"]
let grades = ["excellent", "good", "fair", "poor", "bad"]
let states = ["ended", "ended", "ended", "busy", "no_answer", "failed"]
let t0: Int64 = 1_790_000_000_000
/// One call ends every 10 s: 100,000 calls span ~11.6 days.
func endedAt(_ i: Int) -> Int64 { t0 + Int64(i) * 10_000 }

/// SystemRandomNumberGenerator keeps no state: a fresh one per draw.
func random() -> UInt64 {
    var generator = SystemRandomNumberGenerator()
    return generator.next()
}
func makeCall(_ i: Int) -> (ArchivedCall, [QualityPoint]) {
    let id = "sim-\(i)"
    let provider = providers[i % providers.count]
    let grade = grades[(i / 7) % grades.count]
    let state = states[i % states.count]
    let end = endedAt(i)
    let from = "+1555\(String(1_000_000 + i % 1_000_000))"
    let doc: JSONValue = .object([
        "sessionId": .string(id), "callId": .string("call-\(i)"), "provider": .string(provider),
        "providerCallId": .string("CA\(i)"), "direction": i % 2 == 0 ? "inbound" : "outbound",
        "from": .string(from), "to": "+15550100", "callState": .string(state), "logStatus": "ended",
        "startedAt": .int(end - 120_000), "answeredAt": .int(end - 110_000), "endedAt": .int(end),
        "duration": .int(110), "calleeSub": .string("agent-\(i % 50)"),
        "metadata": .object(["agent": .string("agent-\(i % 50)"), "queue": "sales"]),
        "quality": .object(["mos": .double(4.1), "grade": .string(grade), "latency": .double(40), "jitter": .double(3),
                            "packetLoss": .double(0.1), "rFactor": .double(85), "mosSource": "e-model"]),
    ])
    var summary = doc.objectValue ?? [:]
    summary["metadata"] = nil
    summary["archived"] = true
    let timeline: JSONValue = .array((0..<6).map { n in
        .object(["at": .int(end - 120_000 + Int64(n) * 20_000), "kind": "twilio.status", "source": "twilio",
                 "sourceKind": "provider", "version": .int(Int64(n + 1)),
                 "updates": .array([.object(["field": "callState", "value": "ringing", "ts": .int(end), "fate": "applied"])])])
    })
    let call = ArchivedCall(
        sessionId: id, epoch: "e\(i)", endedAt: end, startedAt: end - 120_000, provider: provider,
        direction: i % 2 == 0 ? "inbound" : "outbound", grade: grade, state: state, calleeSub: "agent-\(i % 50)",
        mos: 4.1, mosAvg: 3 + Double(random() % 150) / 100, warnings: i % 9 == 0 ? ["high-jitter"] : [],
        search: [id, "call-\(i)", "CA\(i)", "agent-\(i % 50)", from, "+15550100"].joined(separator: "\n").lowercased(),
        summary: JSONCodec.encode(.object(summary)), document: JSONCodec.encode(doc),
        timeline: JSONCodec.encode(timeline), conflicts: Array("[]".utf8))
    let points = (0..<options.samples).map { n in
        QualityPoint(sessionId: id, epoch: "e\(i)", version: Int64(n + 2) * 64, ts: end - 100_000 + Int64(n) * 1000,
                     mos: 4.1, latency: 40, jitter: Double(n % 7), packetLoss: 0.1, warnings: [])
    }
    return (call, points)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let path = options.dir + "/history-bench-\(getpid()).db"
defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
let archive = try HistoryArchive(path: path, encryptionKey: nil)

let fillStart = now()
var i = 0
while i < options.calls {
    let batch = min(1000, options.calls - i)
    try archive.transaction { () throws(StoreError) in
        for n in i..<(i + batch) {
            let (call, points) = makeCall(n)
            try archive.add(points)
            try archive.put(call)
        }
    }
    i += batch
}
let fillSeconds = now() - fillStart
if options.optimize {
    let start = now()
    try archive.optimizeSearch()
    print("search index optimized in \(String(format: "%.1f", now() - start)) s")
}
// Settle the WAL into the database so the file size is the archive's.
_ = try? archive.count()
let archived = try archive.count()

func measure(_ name: String, _ body: (Int) throws -> Int) rethrows {
    var times: [Double] = []
    var rows = 0
    for q in 0..<options.queries {
        let start = now()
        rows += try body(q)
        times.append((now() - start) * 1000)
    }
    times.sort()
    func pct(_ p: Double) -> String { String(format: "%.2f", times[min(times.count - 1, Int(p * Double(times.count)))]) }
    print("\(name.padding(toLength: 46, withPad: " ", startingAt: 0)) p50 \(pct(0.50)) ms  p99 \(pct(0.99)) ms  max \(String(format: "%.2f", times.last!)) ms  rows/query \(rows / options.queries)")
}

let span = endedAt(options.calls - 1) - t0
func randomTime() -> Int64 { t0 + Int64(random() % UInt64(max(1, span))) }

print("archive: \(archived) calls, \(options.samples) samples each, filled in \(String(format: "%.1f", fillSeconds)) s")
try measure("history, newest page (limit 50)") { _ in try archive.page(HistoryQuery(limit: 50)).calls.count }
try measure("history, page at a random cursor") { _ in
    let n = Int(random() % UInt64(options.calls))
    return try archive.page(HistoryQuery(limit: 50, after: (endedAt(n), "sim-\(n)"))).calls.count
}
try measure("history, provider=telnyx, random cursor") { _ in
    let n = Int(random() % UInt64(options.calls))
    return try archive.page(HistoryQuery(provider: "telnyx", limit: 50, after: (endedAt(n), "sim-\(n)"))).calls.count
}
try measure("history, grade=bad&state=busy") { _ in try archive.page(HistoryQuery(grade: "bad", state: "busy", limit: 50)).calls.count }
try measure("history, calleeSub=agent-7") { _ in try archive.page(HistoryQuery(calleeSub: "agent-7", limit: 50)).calls.count }
try measure("history, from/to one hour at random") { _ in
    let from = randomTime()
    return try archive.page(HistoryQuery(from: from, to: from + 3_600_000, limit: 50)).calls.count
}
try measure("history, q=<a number> (rare: 1 match)") { q in
    try archive.page(HistoryQuery(q: "+1555\(1_000_000 + (q * 7919) % options.calls)", limit: 50)).calls.count
}
try measure("history, q=agent-7 (common, page fills)") { _ in try archive.page(HistoryQuery(q: "agent-7", limit: 50)).calls.count }
try measure("quality series of one call") { _ in
    let n = Int(random() % UInt64(options.calls))
    return try archive.samples("sim-\(n)", epoch: "e\(n)").count
}
try measure("archived document of one call") { _ in
    let n = Int(random() % UInt64(options.calls))
    return try archive.call("sim-\(n)") == nil ? 0 : 1
}
try measure("summary rows, one day at random") { _ in
    let from = randomTime()
    return try archive.summaryRows(from: from, to: from + 86_400_000).count
}
try measure("summary rows, whole archive") { _ in try archive.summaryRows(from: nil, to: nil).count }

let size = { (p: String) -> Int in ((try? FileManager.default.attributesOfItem(atPath: p)[.size]) as? Int) ?? 0 }
let bytes = size(path) + size(path + "-wal")
print("disk: \(bytes / 1_048_576) MiB (db \(size(path) / 1_048_576) MiB + wal \(size(path + "-wal") / 1_048_576) MiB), \(bytes / max(1, archived)) bytes per call")
