import ArgumentParser
import CallState
import Crypto
import Foundation
import Hub
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `switchboard simulate --url URL [--config PATH] --calls N --rate R`
///
/// Drives realistic calls through the hub's real routes so a dashboard has
/// something to show: Twilio-signed status callbacks delivered out of order
/// (when `providers.twilio.authToken` is configured), client reports with
/// skewed clocks, and quality samples that sometimes degrade.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Drive simulated calls against a running hub.")

    @Option(help: "Base URL of the hub.") var url = "http://127.0.0.1:8080"
    @Option(help: "Config file whose secrets sign webhooks and mint tokens.") var config: String?
    @Option(help: "Number of calls.") var calls = 20
    @Option(help: "New calls per second.") var rate = 2.0
    @Option(help: "Seconds each connected call lasts (median).") var talkSeconds = 20.0
    @Option(help: "Random seed, for repeatable runs.") var seed: UInt64 = 1
    @Option(help: "Session id prefix (default: sim-<time><pid>, new on every run, so a second run never lands in the first run's ended calls).")
    var prefix: String?

    func run() async throws {
        let path = config ?? "Config/switchboard.json"
        var settings = try ConfigLoader.load(fileBytes: ConfigLoader.readFile(path),
                                             environment: ProcessInfo.processInfo.environment)
        _ = try SecretFile.resolve(&settings)
        let driver = SimulationDriver(base: url.hasSuffix("/") ? String(url.dropLast()) : url, config: settings)
        if settings.providers.twilioAuthToken == nil {
            print("providers.twilio.authToken is not set: simulating client reports only")
        }
        let prefix = self.prefix
            ?? "sim-" + String(Int64(Date().timeIntervalSince1970), radix: 36) + String(getpid(), radix: 36)
        guard SessionID.isValid(prefix + "-\(calls)") else {
            throw ValidationError("--prefix must leave valid session ids (1-128 of [A-Za-z0-9._:-])")
        }
        // The prefix is mixed in so call SIDs differ between runs too (the hub
        // finds sessions by CallSid); the same prefix and seed replay exactly.
        var rng = SplitMix64(seed: seed ^ prefix.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
        print("simulating \(calls) calls as \(prefix)-1 … \(prefix)-\(calls)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<calls {
                let plan = CallPlan.random(index: n, prefix: prefix, talkSeconds: talkSeconds, rng: &rng)
                group.addTask { await driver.run(plan) }
                try await Task.sleep(nanoseconds: UInt64(1e9 / max(rate, 0.01)))
            }
            try await group.waitForAll()
        }
        print("simulated \(calls) calls (\(prefix)-*): \(await driver.sent) requests, \(await driver.failed) failed; "
            + "every call has ended (the dashboard shows ended calls for retention.endedSec)")
    }
}

/// One simulated call: who, what happens, how good the line is.
struct CallPlan: Sendable {
    let sessionId: String
    let callSid: String
    let outcome: String  // completed, busy, no-answer, failed
    let talkSeconds: Double
    let clockSkewMs: Int64
    let degrades: Bool
    let seed: UInt64

    static func random(index: Int, prefix: String, talkSeconds: Double, rng: inout SplitMix64) -> CallPlan {
        let roll = rng.unit()
        let outcome = roll < 0.75 ? "completed" : roll < 0.85 ? "busy" : roll < 0.95 ? "no-answer" : "failed"
        let sid = "CA" + (0..<4).map { _ in String(rng.next() & 0xffff_ffff, radix: 16) }.joined()
        return CallPlan(sessionId: "\(prefix)-\(index + 1)", callSid: String(sid.prefix(34)), outcome: outcome,
                        talkSeconds: talkSeconds * (0.5 + rng.unit()),
                        clockSkewMs: Int64((rng.unit() - 0.5) * 4000), degrades: rng.unit() < 0.3, seed: rng.next())
    }
}

/// Sends the requests; counts outcomes.
actor SimulationDriver {
    let base: String
    let config: HubConfig
    private(set) var sent = 0
    private(set) var failed = 0

    init(base: String, config: HubConfig) {
        self.base = base
        self.config = config
    }

    func run(_ plan: CallPlan) async {
        var rng = SplitMix64(seed: plan.seed)
        let start = Date()
        func at(_ offset: Double) -> Int64 { Int64((start.timeIntervalSince1970 + offset) * 1000) }

        await client(plan, event: "initiated", ts: at(0) + plan.clockSkewMs, data: ["direction": "outbound"])
        // Provider callbacks: every status of the call, sent in shuffled order.
        var statuses = [("initiated", 0.0), ("ringing", 1.0)]
        if plan.outcome == "completed" {
            statuses += [("in-progress", 3.0), ("completed", 3.0 + plan.talkSeconds)]
        } else {
            statuses += [(plan.outcome, 6.0)]
        }
        await client(plan, event: "ringing", ts: at(1) + plan.clockSkewMs, data: [:])
        try? await Task.sleep(nanoseconds: 2_000_000_000)
        for (i, (status, offset)) in statuses.prefix(2).shuffled(using: &rng).enumerated() {
            await twilio(plan, status: status, sequence: i, ts: at(offset))
        }
        guard plan.outcome == "completed" else {
            try? await Task.sleep(nanoseconds: 4_000_000_000)
            await twilio(plan, status: plan.outcome, sequence: 2, ts: at(6))
            await client(plan, event: plan.outcome == "busy" ? "declined" : "error", ts: at(6) + plan.clockSkewMs, data: [:])
            return
        }
        await client(plan, event: "connected", ts: at(3) + plan.clockSkewMs, data: [:])
        await twilio(plan, status: "in-progress", sequence: 2, ts: at(3))
        // Quality every second while talking; some calls degrade halfway.
        let samples = Int(plan.talkSeconds)
        for s in 0..<samples {
            let bad = plan.degrades && s > samples / 2
            let rtt = (bad ? 380.0 : 60.0) + rng.unit() * (bad ? 200 : 40)
            let jitter = (bad ? 35.0 : 4.0) + rng.unit() * (bad ? 20 : 6)
            let loss = bad ? 1.5 + rng.unit() * 4 : rng.unit() * 0.4
            await client(plan, event: nil, ts: at(3 + Double(s)) + plan.clockSkewMs,
                         data: ["quality": ["rtt": rtt, "jitter": jitter, "packetLoss": loss]])
            try? await Task.sleep(nanoseconds: 1_000_000_000)
        }
        // The provider's completed and the app's hangup race; either order converges.
        await twilio(plan, status: "completed", sequence: 3, ts: at(3 + plan.talkSeconds))
        await client(plan, event: "ended", ts: at(3 + plan.talkSeconds) + plan.clockSkewMs, data: [:])
    }

    /// A client report through the seed-shaped `/sync` route.
    func client(_ plan: CallPlan, event: String?, ts: Int64, data: [String: Any]) async {
        var body: [String: Any] = ["timestamp": ts, "data": data]
        if let event { body["event"] = event }
        guard let json = try? JSONSerialization.data(withJSONObject: body) else { return }
        // Each simulated app holds a client token for its own call only.
        let token = TokenCommand.mint(config: config, sub: "sim-app-" + plan.sessionId, sid: plan.sessionId,
                                      role: .client, ttl: min(600, config.auth.maxTtlSec))
        await send(path: "/api/calls/\(plan.sessionId)/sync", contentType: "application/json", body: json,
                   headers: ["Authorization": "Bearer " + token])
    }

    /// A Twilio status callback, signed the way Twilio signs it.
    func twilio(_ plan: CallPlan, status: String, sequence: Int, ts: Int64) async {
        guard let token = config.providers.twilioAuthToken else { return }
        let path = "/api/twilio/status?session=\(plan.sessionId)"
        let timestamp = Self.rfc2822(ts)
        let params: [(String, String)] = [
            ("CallSid", plan.callSid), ("CallStatus", status), ("Direction", "outbound-api"),
            ("From", "+15550100"), ("To", "+15550199"), ("SequenceNumber", String(sequence)), ("Timestamp", timestamp),
        ]
        let signed = config.server.publicUrl + path + params.sorted { $0.0 < $1.0 }.map { $0.0 + $0.1 }.joined()
        let signature = Crypto.base64Encode(Crypto.hmacSHA1(key: Array(token.utf8), message: Array(signed.utf8)))
        let form = params.map { "\($0.0)=\(Self.formEncode($0.1))" }.joined(separator: "&")
        await send(path: path, contentType: "application/x-www-form-urlencoded", body: Data(form.utf8),
                   headers: ["X-Twilio-Signature": signature])
    }

    func send(path: String, contentType: String, body: Data, headers: [String: String]) async {
        guard let target = URL(string: base + path) else { return }
        var request = URLRequest(url: target)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        sent += 1
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            if let http = response as? HTTPURLResponse, http.statusCode >= 300 { failed += 1 }
        } catch {
            failed += 1
        }
    }

    static func formEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func rfc2822(_ ms: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

/// A small seeded generator so a simulation can be replayed exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
