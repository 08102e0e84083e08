import CallState

/// A `quality` frame (PROTOCOL.md §3.2, §4): what `SwitchboardCall.quality` yields.
public struct QualityUpdate: Sendable, Equatable {
    /// The document version it carries.
    public var version: Int64
    /// The latest sample: `mos`, `latency`, `jitter`, `packetLoss`, `rFactor`, `grade`, `mosSource`.
    public var quality: [String: JSONValue]
    /// MOS over the call: `{min, avg, max, samples}`.
    public var aggregate: [String: JSONValue]
    /// Active warnings: `high-rtt`, `high-jitter`, `high-packet-loss`, `low-mos`.
    public var warnings: [String]

    /// The sample's MOS.
    public var mos: Double? { quality["mos"]?.doubleValue }
    /// The sample's grade (`excellent` … `bad`).
    public var grade: String? { quality["grade"]?.stringValue }
}
