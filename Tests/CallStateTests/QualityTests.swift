import Foundation
import Testing
@testable import CallState

@Suite("Quality (§4)")
struct QualityTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var latencyMs: Double
            var jitterMs: Double
            var packetLossPct: Double
            var rFactor: Double
            var mos: Double
        }
        var tolerance: Double
        var cases: [Case]
    }

    /// /work/<worktree>/Tests/CallStateTests/ → /work/shared/fixtures.
    static let fixtureURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures/emodel-cases.json")
        .standardizedFileURL

    @Test("EModel.score matches every case of fixtures/emodel-cases.json within 0.01")
    func eModelFixture() throws {
        let data = try Data(contentsOf: Self.fixtureURL)
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        #expect(fixture.cases.count >= 10)
        for c in fixture.cases {
            let score = EModel.score(latency: c.latencyMs, jitter: c.jitterMs, packetLoss: c.packetLossPct)
            #expect(abs(score.rFactor - c.rFactor) <= 0.01, "R for \(c)")
            #expect(abs(score.mos - c.mos) <= 0.01, "MOS for \(c)")
        }
    }

    @Test("MOS stays within [1, 4.5] over the whole R range")
    func mosRange() {
        for latency in stride(from: 0.0, through: 1000, by: 5) {
            for loss in stride(from: 0.0, through: 40, by: 0.5) {
                let mos = EModel.score(latency: latency, jitter: 0, packetLoss: loss).mos
                #expect(mos >= 1 && mos <= 4.5)
            }
        }
    }

    @Test("Grade boundaries: excellent ≥4.3, good ≥4.0, fair ≥3.6, poor ≥3.1, else bad", arguments: [
        (4.5, QualityGrade.excellent), (4.3, .excellent), (4.299, .good), (4.0, .good), (3.999, .fair),
        (3.6, .fair), (3.599, .poor), (3.1, .poor), (3.099, .bad), (1.0, .bad),
    ])
    func grades(mos: Double, grade: QualityGrade) {
        #expect(QualityGrade(mos: mos) == grade)
    }

    @Test("The latest sample is scored by the E-model, or its reported MOS is kept")
    func latestSnapshot() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(qualityInput([QualitySample(ts: t0, rtt: 40, jitter: 0, packetLoss: 0, source: "c")]),
                          now: t0)
        var latest = session.quality.latest
        #expect(latest?.latency == 20) // rtt / 2
        #expect(latest?.mos == 4.394)
        #expect(latest?.rFactor == 92.45)
        #expect(latest?.grade == .excellent)
        #expect(latest?.mosSource == .eModel)
        #expect(session.document.quality == latest)

        _ = session.apply(qualityInput([QualitySample(ts: t0 + 1000, latency: 20, jitter: 0, packetLoss: 0,
                                                      mos: 3.2, source: "c")]), now: t0 + 1000)
        latest = session.quality.latest
        #expect(latest?.mos == 3.2 && latest?.mosSource == .reported && latest?.grade == .poor)
        // A late, older sample counts in the aggregate but is not the latest.
        _ = session.apply(qualityInput([QualitySample(ts: t0 + 500, latency: 20, mos: 4.0, source: "c")]),
                          now: t0 + 1100)
        #expect(session.quality.latest?.mos == 3.2)
        let aggregate = session.quality.aggregate
        #expect(aggregate.samples == 3)
        #expect(aggregate.min == 3.2 && aggregate.max ?? 0 > 4.39)
        #expect(session.quality.json["aggregate"]?["avg"] == .double(3.865))
        #expect(session.quality.latest?.json.canonicalText
            == #"{"grade":"poor","jitter":0,"latency":20,"mos":3.2,"mosSource":"reported","packetLoss":0,"rFactor":92.45}"#)
    }

    @Test("An empty sample changes nothing")
    func emptySample() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        let outcome = session.apply(qualityInput([QualitySample(ts: t0, source: "c")]), now: t0)
        #expect(!outcome.qualityChanged && outcome.version == 0)
    }

    static func jittery(_ high: Bool, at ts: Int64) -> QualitySample {
        QualitySample(ts: ts, latency: 20, jitter: high ? 45 : 5, packetLoss: 0, source: "c")
    }

    @Test("A warning is raised when 3 of the last 5 samples cross, not before")
    func raiseOnThreeOfFive() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        let pattern = [true, false, true, false]
        for (i, high) in pattern.enumerated() {
            _ = session.apply(qualityInput([Self.jittery(high, at: t0 + Int64(i) * 1000)]), now: t0 + Int64(i) * 1000)
            #expect(session.quality.warnings.isEmpty)
        }
        _ = session.apply(qualityInput([Self.jittery(true, at: t0 + 4000)]), now: t0 + 4000)
        #expect(session.quality.warnings == [.highJitter])
        #expect(session.quality.json["warnings"] == .array([.string("high-jitter")]))
    }

    @Test("A warning clears only once fewer than 3 of 5 cross and no sooner than 5 s after it was raised")
    func clearNotBeforeFiveSeconds() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        var now = t0
        for _ in 0..<3 {
            _ = session.apply(qualityInput([Self.jittery(true, at: now)]), now: now)
            now += 500
        }
        let raisedAt = t0 + 1000
        #expect(session.quality.warnings == [.highJitter])
        // Still crossing: no deadline, tick does nothing.
        #expect(session.nextDeadline() == nil)
        for _ in 0..<3 {
            _ = session.apply(qualityInput([Self.jittery(false, at: now)]), now: now)
            now += 500
        }
        // Now only 2 of the last 5 cross, but 5 s have not passed: still raised.
        #expect(session.quality.warnings == [.highJitter])
        #expect(session.nextDeadline() == raisedAt + 5000)
        #expect(session.tick(now: raisedAt + 4999) == nil)
        let version = session.version
        let cleared = session.tick(now: raisedAt + 5000)
        #expect(cleared?.qualityChanged == true)
        #expect(cleared?.stateChanged == false)
        #expect(cleared?.version == version + 1)
        #expect(session.quality.warnings.isEmpty)
        #expect(session.nextDeadline() == nil)
    }

    @Test("Each warning has its own threshold: rtt > 400, jitter > 30, loss > 1 %, MOS < 3.5")
    func thresholds() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        for i in 0..<3 {
            _ = session.apply(qualityInput([
                QualitySample(ts: t0 + Int64(i), rtt: 401, jitter: 30, packetLoss: 1.5, mos: 3.4, source: "c"),
            ]), now: t0)
        }
        #expect(session.quality.warnings == [.highRtt, .highPacketLoss, .lowMos])
    }
}
