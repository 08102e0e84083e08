/// The call-quality vocabulary of PROTOCOL.md §4: the E-model, grades, MOS
/// provenance and warnings. The per-session state is `QualityState`.

/// The simplified E-model (ITU-T G.107 R-to-MOS mapping) of §4.
public enum EModel {
    /// Scores one sample.
    ///
    /// `eff = latency + 2*jitter + 10`; `R = 93.2 - eff/40` if `eff < 160`, else
    /// `93.2 - (eff-120)/10`; `R -= 2.5*packetLoss`; R clamped to [0, 100];
    /// `MOS = 1 + 0.035R + 7e-6*R*(R-60)*(100-R)`, clamped to [1, 4.5] because the
    /// cubic dips just below 1 for small R (G.107 defines MOS = 1 at and below R = 0).
    /// - Parameters:
    ///   - latency: one-way delay, ms.
    ///   - jitter: ms.
    ///   - packetLoss: percent, 0-100.
    /// - Returns: the R factor and the MOS, unrounded.
    public static func score(latency: Double, jitter: Double, packetLoss: Double) -> (rFactor: Double, mos: Double) {
        let eff = latency + 2 * jitter + 10
        var r = eff < 160 ? 93.2 - eff / 40 : 93.2 - (eff - 120) / 10
        r -= 2.5 * packetLoss
        r = min(max(r, 0), 100)
        let mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
        return (r, min(max(mos, 1), 4.5))
    }
}

/// A MOS in words (§4): excellent ≥ 4.3, good ≥ 4.0, fair ≥ 3.6, poor ≥ 3.1, bad below.
public enum QualityGrade: String, Sendable, Hashable, CaseIterable, Codable {
    /// MOS ≥ 4.3.
    case excellent
    /// MOS ≥ 4.0.
    case good
    /// MOS ≥ 3.6.
    case fair
    /// MOS ≥ 3.1.
    case poor
    /// MOS < 3.1.
    case bad

    /// The grade of a MOS.
    public init(mos: Double) {
        switch mos {
        case 4.3...: self = .excellent
        case 4.0...: self = .good
        case 3.6...: self = .fair
        case 3.1...: self = .poor
        default: self = .bad
        }
    }
}

/// Where a MOS came from.
public enum MOSSource: String, Sendable, Hashable, Codable {
    /// The source measured it and sent `mos`.
    case reported
    /// The hub computed it with `EModel`.
    case eModel = "e-model"
}

/// A sustained quality problem (§4), raised when 3 of the last 5 samples cross
/// its threshold and cleared no sooner than 5 s later.
public enum QualityWarning: String, Sendable, Hashable, CaseIterable, Codable {
    /// Round trip above `MergeConfig.highRttMs` (400 ms).
    case highRtt = "high-rtt"
    /// Jitter above `MergeConfig.highJitterMs` (30 ms).
    case highJitter = "high-jitter"
    /// Packet loss above `MergeConfig.highPacketLossPct` (1 %).
    case highPacketLoss = "high-packet-loss"
    /// MOS below `MergeConfig.lowMos` (3.5).
    case lowMos = "low-mos"

    /// Bit in the per-sample crossing mask.
    var bit: UInt8 { 1 << UInt8(QualityWarning.allCases.firstIndex(of: self) ?? 0) }
}

/// Rounds to `places` decimals, for display (MOS to 3, R to 2).
func rounded(_ x: Double, places: Int) -> Double {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (x * scale).rounded() / scale
}
