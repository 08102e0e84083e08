// Durable ingest rate into a SQLiteJournal: group commit through a
// JournalWriter vs one transaction (one fsync) per input.
//
//   swift build -c release --scratch-path .build-store --product StoreBench
//   .build-store/release/StoreBench [--seconds 3] [--runs 3] [--inflight 1,16,64,256] [--encrypt] [--dir /tmp]
//                                   [--checkpoint-interval-ms 1000]
//
// The group-commit loop plays the reactor: one thread submits until K inputs
// are in flight (K clients waiting for their ack), sleeps until the writer's
// wake, takes the completions and refills. Every figure is inputs durably
// committed per second of wall time.
import CallState
import Foundation
import Store

struct Options {
    var seconds = 3.0
    var runs = 3
    var inflight = [1, 16, 64, 256]
    var encrypt = false
    var direct = false
    var dir = NSTemporaryDirectory()
    /// `store.checkpointIntervalMs` (the hub's default is 1000; 0: size-triggered passes only).
    var checkpointIntervalMs = 0

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": seconds = iterator.next().flatMap(Double.init) ?? seconds
            case "--runs": runs = iterator.next().flatMap(Int.init) ?? runs
            case "--inflight":
                inflight = iterator.next().map { $0.split(separator: ",").compactMap { Int($0) } } ?? inflight
            case "--encrypt": encrypt = true
            case "--direct": direct = true
            case "--dir": dir = iterator.next() ?? dir
            case "--checkpoint-interval-ms":
                checkpointIntervalMs = iterator.next().flatMap(Int.init) ?? checkpointIntervalMs
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

/// A client report with PII and metadata, like the hub journals per input.
func makeEntry(_ n: Int) -> JournalEntry {
    let ts = 1_700_000_000_000 + Int64(n)
    let session = "bench-\(n % 1000)"
    let input = Input(
        kind: "client.report", source: "client:agent7", sourceKind: .client, eventId: "r\(n)", receivedAt: ts,
        updates: [
            Update(field: .callState, value: .string("connected"), ts: ts, source: "client:agent7",
                   sourceKind: .client, seq: Int64(n), eventId: "r\(n)"),
            Update(field: .phoneNumber, value: .string("+15550100"), ts: ts, source: "client:agent7",
                   sourceKind: .client, seq: Int64(n), eventId: "r\(n)"),
            Update(field: .metadata("agent"), value: .string("agent7"), ts: ts, source: "client:agent7",
                   sourceKind: .client, seq: Int64(n), eventId: "r\(n)"),
        ])
    return JournalEntry(sessionId: session, epoch: "e1", input: input)
}

func freshJournal(_ options: Options, _ name: String) throws -> (SQLiteJournal, String) {
    let path = options.dir + "/storebench-\(getpid())-\(name).db"
    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    let key: [UInt8]? = options.encrypt ? Array(repeating: 0x5A, count: 32) : nil
    return (try SQLiteJournal(path: path, encryptionKey: key, checkpointIntervalMs: options.checkpointIntervalMs), path)
}

func removeJournal(_ path: String) {
    for suffix in ["", "-wal", "-shm", ".marker"] { unlink(path + suffix) }
}

/// The writer's wake as the reactor sees it: a flag and a condition.
final class Wakeup: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending = false

    func signal() {
        condition.withLock {
            pending = true
            condition.signal()
        }
    }

    func wait() {
        condition.withLock {
            while !pending { condition.wait() }
            pending = false
        }
    }
}

struct Result {
    let rate: Double
    let commits: Int
    let inputs: Int
}

func groupCommit(_ options: Options, inflight: Int, run: Int) throws -> Result {
    let (journal, path) = try freshJournal(options, "group-\(inflight)-\(run)")
    defer { removeJournal(path) }
    let wakeup = Wakeup()
    let writer = JournalWriter(store: journal, wake: { wakeup.signal() })
    var submitted = 0
    var completed = 0
    let start = Date()
    let deadline = start.addingTimeInterval(options.seconds)
    while true {
        let now = Date()
        while submitted - completed < inflight && now < deadline {
            writer.submit(makeEntry(submitted), token: submitted)
            submitted += 1
        }
        if submitted == completed { break }
        wakeup.wait()
        for completion in writer.takeCompleted() {
            if let error = completion.error { fatalError("commit failed: \(error)") }
            completed += 1
        }
    }
    let elapsed = Date().timeIntervalSince(start)
    writer.close()
    return Result(rate: Double(completed) / elapsed, commits: journal.commitCount, inputs: completed)
}

func perInput(_ options: Options, run: Int) throws -> Result {
    let (journal, path) = try freshJournal(options, "single-\(run)")
    defer { removeJournal(path) }
    var n = 0
    let start = Date()
    let deadline = start.addingTimeInterval(options.seconds)
    while Date() < deadline {
        try journal.append([makeEntry(n)])
        n += 1
    }
    let elapsed = Date().timeIntervalSince(start)
    return Result(rate: Double(n) / elapsed, commits: journal.commitCount, inputs: n)
}

/// The store's own ceiling: batches of `size` appended directly, no writer thread.
func batched(_ options: Options, size: Int, run: Int) throws -> Result {
    let (journal, path) = try freshJournal(options, "batch-\(size)-\(run)")
    defer { removeJournal(path) }
    var n = 0
    let start = Date()
    let deadline = start.addingTimeInterval(options.seconds)
    while Date() < deadline {
        try journal.append((n..<n + size).map(makeEntry))
        n += size
    }
    let elapsed = Date().timeIntervalSince(start)
    return Result(rate: Double(n) / elapsed, commits: journal.commitCount, inputs: n)
}

func summary(_ results: [Result]) -> (min: Double, median: Double, max: Double, perCommit: Double) {
    let rates = results.map(\.rate).sorted()
    let inputs = results.reduce(0) { $0 + $1.inputs }
    let commits = results.reduce(0) { $0 + $1.commits }
    return (rates.first ?? 0, rates[rates.count / 2], rates.last ?? 0, Double(inputs) / Double(max(commits, 1)))
}

func format(_ value: Double) -> String { String(Int(value.rounded())) }

let options = Options(CommandLine.arguments)
print("StoreBench: \(options.runs) rounds x \(options.seconds) s per measurement, dir \(options.dir), encryption \(options.encrypt ? "on" : "off")")
print("(rounds interleave the modes so each sees the same disk conditions; ratios are paired per round)")

// fsync latency on a shared or virtual disk drifts by an order of magnitude
// from minute to minute: measure the modes side by side, round by round.
var single: [Result] = []
var direct: [Result] = []
var group: [Int: [Result]] = [:]
for run in 0..<options.runs {
    single.append(try perInput(options, run: run))
    var line = "round \(run + 1): one fsync per input \(format(single[run].rate))/s"
    if options.direct {
        direct.append(try batched(options, size: 256, run: run))
        line += ", direct 256-batches \(format(direct[run].rate))/s"
    }
    for k in options.inflight {
        let result = try groupCommit(options, inflight: k, run: run)
        group[k, default: []].append(result)
        line += ", K=\(k) \(format(result.rate))/s"
    }
    print(line)
}

let one = summary(single)
print("one fsync per input".padding(toLength: 32, withPad: " ", startingAt: 0)
      + " inputs/s min \(format(one.min))  median \(format(one.median))  max \(format(one.max))")
if options.direct {
    let s = summary(direct)
    print("direct append([256]), no writer".padding(toLength: 32, withPad: " ", startingAt: 0)
          + " inputs/s min \(format(s.min))  median \(format(s.median))  max \(format(s.max))")
}
for k in options.inflight {
    let results = group[k] ?? []
    let s = summary(results)
    let ratios = zip(results, single).map { $0.rate / max($1.rate, 1) }.sorted()
    print("group commit, \(k) in flight".padding(toLength: 32, withPad: " ", startingAt: 0)
          + " inputs/s min \(format(s.min))  median \(format(s.median))  max \(format(s.max))"
          + "  inputs/commit \(String(format: "%.1f", s.perCommit))"
          + "  ratio vs one fsync per input (paired) median x\(String(format: "%.1f", ratios[ratios.count / 2]))"
          + " [x\(String(format: "%.1f", ratios.first ?? 0))-x\(String(format: "%.1f", ratios.last ?? 0))]")
}
