/// Folds quality samples into a `QualityState` and runs the warning rule of §4.
///
/// Warnings look at the last `warningWindow` samples in arrival order: raised
/// when `warningRaiseCount` of them cross, cleared once fewer cross *and*
/// `warningClearDelayMs` have passed since the raise (hub clock). The second
/// condition can become true with no new sample, which is why the clear runs
/// from `CallSession.tick(now:)` at `clearDeadline`.
struct QualityTracker: Sendable, Codable {
    private(set) var state = QualityState()
    /// Crossing masks (`QualityWarning.bit`) of the recent samples.
    private var recent: BoundedRing<UInt8>
    /// Active warnings as a mask.
    private var active: UInt8 = 0
    /// Hub time each warning was raised, by `allCases` index.
    private var raisedAt: [Int64]

    init(config: MergeConfig) {
        recent = BoundedRing(capacity: config.warningWindow)
        raisedAt = Array(repeating: 0, count: QualityWarning.allCases.count)
    }

    /// Adds one sample; false when it carried nothing usable (no change).
    mutating func add(_ sample: QualitySample, now: Int64, config: MergeConfig) -> Bool {
        let latency = sample.latency ?? sample.rtt.map { $0 / 2 }
        let rtt = sample.rtt ?? sample.latency.map { $0 * 2 }
        guard latency != nil || sample.jitter != nil || sample.packetLoss != nil || sample.mos != nil else {
            return false
        }
        var mos = sample.mos
        var mosSource: MOSSource? = mos == nil ? nil : .reported
        var rFactor: Double?
        if let latency {
            // Missing jitter or loss count as none: a latency alone still scores.
            let score = EModel.score(latency: latency, jitter: sample.jitter ?? 0, packetLoss: sample.packetLoss ?? 0)
            rFactor = rounded(score.rFactor, places: 2)
            if mos == nil {
                mos = score.mos
                mosSource = .eModel
            }
        }
        let shownMos = mos.map { rounded($0, places: 3) }
        let snapshot = QualitySnapshot(
            mos: shownMos, latency: latency, jitter: sample.jitter, packetLoss: sample.packetLoss,
            rFactor: rFactor, grade: shownMos.map(QualityGrade.init(mos:)), mosSource: mosSource, ts: sample.ts)
        if let latest = state.latest, sample.ts < latest.ts {
            // A late sample counts in the aggregate and warnings but is not "latest".
        } else {
            state.latest = snapshot
        }
        if let mos { state.aggregate.add(mos) }

        var mask: UInt8 = 0
        if let rtt, rtt > config.highRttMs { mask |= QualityWarning.highRtt.bit }
        if let jitter = sample.jitter, jitter > config.highJitterMs { mask |= QualityWarning.highJitter.bit }
        if let loss = sample.packetLoss, loss > config.highPacketLossPct { mask |= QualityWarning.highPacketLoss.bit }
        if let mos, mos < config.lowMos { mask |= QualityWarning.lowMos.bit }
        recent.append(mask)
        updateWarnings(now: now, config: config)
        return true
    }

    /// Clears warnings whose delay has passed; true if any cleared.
    mutating func tick(now: Int64, config: MergeConfig) -> Bool {
        let before = active
        updateWarnings(now: now, config: config)
        return active != before
    }

    /// The earliest hub time at which `tick` would clear a warning, if any is
    /// waiting only for its delay.
    func clearDeadline(config: MergeConfig) -> Int64? {
        var deadline: Int64?
        for (i, warning) in QualityWarning.allCases.enumerated()
        where active & warning.bit != 0 && crossings(warning) < config.warningRaiseCount {
            let at = raisedAt[i].saturatingAdd(config.warningClearDelayMs)
            deadline = min(deadline ?? at, at)
        }
        return deadline
    }

    private func crossings(_ warning: QualityWarning) -> Int {
        var n = 0
        for i in 0..<recent.count where recent[i] & warning.bit != 0 { n += 1 }
        return n
    }

    private mutating func updateWarnings(now: Int64, config: MergeConfig) {
        let before = active
        for (i, warning) in QualityWarning.allCases.enumerated() {
            let crossing = crossings(warning) >= config.warningRaiseCount
            if active & warning.bit == 0 {
                if crossing {
                    active |= warning.bit
                    raisedAt[i] = now
                }
            } else if !crossing && now >= raisedAt[i].saturatingAdd(config.warningClearDelayMs) {
                active &= ~warning.bit
            }
        }
        if active != before {
            state.warnings = QualityWarning.allCases.filter { active & $0.bit != 0 }
        }
    }
}
