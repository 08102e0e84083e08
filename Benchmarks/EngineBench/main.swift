/// EngineBench: single-field updates applied per second by `CallSession.apply`
/// on one core.
///
///     swift run -c release --scratch-path .build-engine EngineBench \
///         [sessions] [inputsPerSession] [runs] [timelineEntries] [dedupeWindow]
///
/// Inputs are built before timing (the parser's cost is not the engine's);
/// each run applies all of them, interleaved across sessions the way a hub
/// sees traffic, to freshly created sessions. Timing uses ContinuousClock
/// (wall time); the thread's CPU time is printed beside it because on a shared
/// machine other processes' load inflates wall time.
import CallState
#if canImport(Glibc)
import Glibc
#endif

/// CPU time consumed by this thread, in seconds (0 where unavailable).
func threadCPUSeconds() -> Double {
    #if canImport(Glibc)
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    #else
    return 0
    #endif
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let sessionCount = arguments.count > 0 ? arguments[0] : 1_000
let perSession = arguments.count > 1 ? arguments[1] : 500
let runs = arguments.count > 2 ? arguments[2] : 7

let base: Int64 = 1_700_000_000_000
let states: [CallStateValue] = [.initiated, .ringing, .connecting, .connected, .onHold, .connected,
                                .reconnecting, .connected]
let metadataKeys = ["agent", "mood", "handoff", "score"]
let clients = ["client:u1", "client:u2"]

/// One session's traffic: a callState every 4th update (Twilio with 1 s
/// timestamps, so ties, or a client), metadata otherwise from rotating
/// sources, ts increasing by 250 ms, ~2 % redelivered duplicates, and the
/// call ending at the last update.
func traffic(session s: Int) -> [Input] {
    var inputs: [Input] = []
    inputs.reserveCapacity(perSession)
    for k in 0..<perSession {
        let ts = base + Int64(k) * 250
        if k > 0 && k % 50 == 7, let previous = inputs.last {
            inputs.append(previous) // a webhook retry
            continue
        }
        let update: Update
        if k == perSession - 1 {
            update = Update(field: .callState, value: .string("ended"), ts: ts, source: "twilio",
                            sourceKind: .provider, seq: Int64(k), eventId: "e\(k)")
        } else if k % 4 == 0 {
            let state = states[(k / 4) % states.count].rawValue
            if (k / 4) % 2 == 0 {
                update = Update(field: .callState, value: .string(state), ts: ts / 1000 * 1000,
                                source: "twilio", sourceKind: .provider, seq: Int64(k), eventId: "e\(k)")
            } else {
                update = Update(field: .callState, value: .string(state), ts: ts, source: clients[s % 2],
                                sourceKind: .client, seq: Int64(k), eventId: "e\(k)")
            }
        } else {
            let key = metadataKeys[k % metadataKeys.count]
            let value: JSONValue = k % 3 == 0 ? .int(Int64(k)) : .string(k % 2 == 0 ? "calm" : "busy")
            let (source, kind): (String, SourceKind) = switch k % 3 {
            case 0: ("backend", .backend)
            case 1: (clients[s % 2], .client)
            default: ("twilio", .provider)
            }
            update = Update(field: .metadata(key), value: value, ts: ts, source: source, sourceKind: kind,
                            seq: Int64(k), eventId: "e\(k)")
        }
        inputs.append(Input(kind: "bench", source: update.source, sourceKind: update.sourceKind,
                            eventId: update.eventId, receivedAt: ts, updates: [update]))
    }
    return inputs
}

// Interleave: input i of every session, then input i+1, …
let perSessionTraffic = (0..<sessionCount).map(traffic(session:))
var schedule: [(session: Int, input: Input)] = []
schedule.reserveCapacity(sessionCount * perSession)
for k in 0..<perSession {
    for s in 0..<sessionCount { schedule.append((s, perSessionTraffic[s][k])) }
}
let total = schedule.count

/// A hub applies an input right after parsing it, while it is in cache. Timing
/// one long array of prebuilt inputs would instead charge a cache miss per
/// input to the engine, so runs copy each chunk of the schedule afresh
/// (untimed) and time its application.
let chunkSize = 256
/// Optional overrides, to see what the timeline and the idempotency memory cost.
let benchConfig = MergeConfig(timelineEntries: arguments.count > 3 ? arguments[3] : 500,
                              dedupeWindow: arguments.count > 4 ? arguments[4] : 4096)

print("EngineBench: \(sessionCount) sessions x \(perSession) single-field inputs = \(total) per run, \(runs) runs")
var rates: [Double] = []
var cpuRates: [Double] = []
var checksum: Int64 = 0
let clock = ContinuousClock()
for run in 1...runs {
    var sessions = (0..<sessionCount).map { CallSession(sessionId: "s\($0)", epoch: "E", config: benchConfig) }
    var elapsed = Duration.zero
    var cpu = 0.0
    var chunkStart = 0
    while chunkStart < total {
        let chunkEnd = min(chunkStart + chunkSize, total)
        // Fresh copies: new update arrays, as a parser would allocate them.
        let chunk = schedule[chunkStart..<chunkEnd].map { item -> (Int, Input) in
            var input = item.input
            input.updates = item.input.updates.map { $0 }
            return (item.session, input)
        }
        let start = clock.now
        let cpuStart = threadCPUSeconds()
        for i in chunk.indices {
            let outcome = sessions[chunk[i].0].apply(chunk[i].1, now: chunk[i].1.receivedAt)
            checksum &+= outcome.version
        }
        cpu += threadCPUSeconds() - cpuStart
        elapsed += start.duration(to: clock.now)
        chunkStart = chunkEnd
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let rate = Double(total) / seconds
    rates.append(rate)
    cpuRates.append(Double(total) / cpu)
    print("run \(run): \(Int(rate)) updates/s wall (\(Int(seconds * 1000)) ms applying), "
          + "\(Int(Double(total) / cpu)) updates/s of thread CPU time")
    // Sanity: every session ended.
    precondition(sessions.allSatisfy { $0.document.callState == .ended })
}
func summary(_ values: [Double]) -> String {
    let sorted = values.sorted()
    return "min \(Int(sorted[0]))  median \(Int(sorted[sorted.count / 2]))  max \(Int(sorted[sorted.count - 1]))"
}
print("wall:     \(summary(rates)) updates/s")
print("thread CPU: \(summary(cpuRates)) updates/s  (checksum \(checksum))")
