import CallState
import Store

/// The JSON and CSV shapes of PROTOCOL.md §12: history rows, the quality
/// series (downsampled past `history.qualityPoints`), the fleet summary.
/// Pure functions: they run on the archive thread, inside reads.
enum HistorySummary {
    /// Document keys a history row carries (docs/API.md "History").
    static let rowKeys = ["sessionId", "callId", "callUUID", "direction", "from", "to", "provider", "providerCallId",
                          "callState", "logStatus", "startedAt", "answeredAt", "endedAt", "duration", "calleeSub",
                          "lastSync", "version"]

    /// One history row: the listed document keys, `quality` `{mos, grade}`,
    /// `mosAvg`, `samples` and `warnings` over the whole call, `archived: true`.
    static func row(_ document: JSONValue, engine: CallSession) -> JSONValue {
        var members: [String: JSONValue] = [:]
        for key in rowKeys { members[key] = document[key] ?? .null }
        let latest = engine.quality.latest
        members["quality"] = .object(["mos": latest?.mos.map(JSONValue.double) ?? .null,
                                      "grade": latest?.grade.map { .string($0.rawValue) } ?? .null])
        members["mosAvg"] = engine.quality.aggregate.avg.map { .double(rounded3($0)) } ?? .null
        members["samples"] = .int(Int64(engine.quality.aggregate.samples))
        members["warnings"] = .array(engine.quality.warnings.map { .string($0.rawValue) })
        members["archived"] = true
        return .object(members)
    }

    static func rounded3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    // MARK: - CSV

    static let csvColumns = ["sessionId", "callId", "provider", "direction", "from", "to", "callState", "startedAt",
                             "answeredAt", "endedAt", "duration", "mos", "grade", "mosAvg", "samples", "warnings",
                             "calleeSub"]

    /// RFC 4180: CRLF line ends; a field with a comma, quote, CR or LF is
    /// quoted, its quotes doubled.
    static func csv(_ rows: [JSONValue]) -> [UInt8] {
        var out = csvColumns.joined(separator: ",") + "\r\n"
        for row in rows {
            let fields = csvColumns.map { column -> String in
                let value: JSONValue?
                switch column {
                case "mos": value = row["quality"]?["mos"]
                case "grade": value = row["quality"]?["grade"]
                case "warnings":
                    var names: [String] = []
                    if case .array(let items)? = row["warnings"] { names = items.compactMap(\.stringValue) }
                    value = .string(names.joined(separator: " "))
                default: value = row[column]
                }
                return csvField(value)
            }
            out += fields.joined(separator: ",") + "\r\n"
        }
        return Array(out.utf8)
    }

    static func csvField(_ value: JSONValue?) -> String {
        let text: String
        switch value {
        case .none, .null?: return ""
        case .string(let s)?: text = s
        case .int(let i)?: return String(i)
        case .double(let d)?: return String(d)
        case .bool(let b)?: return b ? "true" : "false"
        default: text = ""
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
    }

    // MARK: - Quality series

    /// `{sessionId, samples, bucketed, points, warnings}`.
    ///
    /// Up to `limit` samples every sample is a point `{ts, mos, latency,
    /// jitter, packetLoss}` (plus `warnings` when any was active). Beyond,
    /// consecutive samples are grouped into `limit` buckets of
    /// `ceil(samples / limit)` (the last one shorter): a bucket's metrics are
    /// the averages, with `tsEnd` (its last sample's ts), `samples`, and
    /// `min` / `max` objects of the same four metrics. `warnings` at the top
    /// marks every warning's raise and clear on the time axis
    /// (`{ts, warning, event: "raised"|"cleared"}`), from every sample.
    static func series(_ sessionId: String, _ points: [QualityPoint], limit: Int, archived: Bool) -> JSONValue {
        func num(_ v: Double?) -> JSONValue { v.map { .double(rounded3($0)) } ?? .null }
        var marks: [JSONValue] = []
        var active: Set<String> = []
        for p in points {
            let now = Set(p.warnings)
            for w in now.subtracting(active).sorted() { marks.append(["ts": .int(p.ts), "warning": .string(w), "event": "raised"]) }
            for w in active.subtracting(now).sorted() { marks.append(["ts": .int(p.ts), "warning": .string(w), "event": "cleared"]) }
            active = now
        }
        var out: [JSONValue] = []
        let bucketed = points.count > limit
        if !bucketed {
            out = points.map { p in
                var m: [String: JSONValue] = ["ts": .int(p.ts), "mos": num(p.mos), "latency": num(p.latency),
                                              "jitter": num(p.jitter), "packetLoss": num(p.packetLoss)]
                if !p.warnings.isEmpty { m["warnings"] = .array(p.warnings.map { .string($0) }) }
                return .object(m)
            }
        } else {
            let size = (points.count + limit - 1) / limit
            var start = 0
            while start < points.count {
                let bucket = points[start..<min(start + size, points.count)]
                start += size
                var avg: [String: JSONValue] = [:]
                var lo: [String: JSONValue] = [:]
                var hi: [String: JSONValue] = [:]
                let metrics: [(String, KeyPath<QualityPoint, Double?>)] =
                    [("mos", \.mos), ("latency", \.latency), ("jitter", \.jitter), ("packetLoss", \.packetLoss)]
                for (name, path) in metrics {
                    let values = bucket.compactMap { $0[keyPath: path] }
                    avg[name] = values.isEmpty ? .null : num(values.reduce(0, +) / Double(values.count))
                    lo[name] = num(values.min())
                    hi[name] = num(values.max())
                }
                var m = avg
                m["ts"] = .int(bucket.first!.ts)
                m["tsEnd"] = .int(bucket.last!.ts)
                m["samples"] = .int(Int64(bucket.count))
                m["min"] = .object(lo)
                m["max"] = .object(hi)
                let warnings = Set(bucket.flatMap(\.warnings)).sorted()
                if !warnings.isEmpty { m["warnings"] = .array(warnings.map { .string($0) }) }
                out.append(.object(m))
            }
        }
        return .object([
            "sessionId": .string(sessionId), "archived": .bool(archived), "samples": .int(Int64(points.count)),
            "bucketed": .bool(bucketed), "points": .array(out), "warnings": .array(marks),
        ])
    }

    // MARK: - Fleet summary

    /// `{"groups":[{key, calls, mos:{p10,p50,avg}, grades:{…}, warnings:{…}}]}`.
    /// `mos` ranks each call's mean MOS (nearest rank); `grades` counts calls
    /// by the grade they ended with (`none`: no quality at all); `warnings`
    /// counts calls that raised each warning at least once.
    static func fleet(_ rows: [SummaryRow], by: String) -> JSONValue {
        var groups: [String: [SummaryRow]] = [:]
        for row in rows {
            let key: String
            switch by {
            case "direction": key = row.direction ?? "unknown"
            case "hour": key = hourKey(row.endedAt)
            default: key = row.provider ?? "unknown"
            }
            groups[key, default: []].append(row)
        }
        let keys = groups.keys.sorted()  // hour keys sort as time
        return .object(["by": .string(by), "groups": .array(keys.map { key in
            let members = groups[key]!
            let mos = members.compactMap(\.mosAvg).sorted()
            func rank(_ p: Double) -> JSONValue {
                guard !mos.isEmpty else { return .null }
                let index = max(0, Int((p * Double(mos.count)).rounded(.up)) - 1)
                return .double(rounded3(mos[min(index, mos.count - 1)]))
            }
            var grades: [String: JSONValue] = [:]
            for g in QualityGrade.allCases.map(\.rawValue) + ["none"] { grades[g] = .int(0) }
            var warnings: [String: JSONValue] = [:]
            for w in QualityWarning.allCases.map(\.rawValue) { warnings[w] = .int(0) }
            for m in members {
                let g = m.grade ?? "none"
                grades[g] = .int((grades[g]?.intValue ?? 0) + 1)
                for w in Set(m.warnings) { warnings[w] = .int((warnings[w]?.intValue ?? 0) + 1) }
            }
            return .object([
                "key": .string(key), "calls": .int(Int64(members.count)),
                "mos": .object(["p10": rank(0.10), "p50": rank(0.50),
                                "avg": mos.isEmpty ? .null : .double(rounded3(mos.reduce(0, +) / Double(mos.count)))]),
                "grades": .object(grades), "warnings": .object(warnings),
            ])
        })])
    }

    /// `2026-12-06T21:00:00Z`: the UTC hour `ms` falls in.
    static func hourKey(_ ms: Int64) -> String {
        let hours = ms >= 0 ? ms / 3_600_000 : (ms - 3_599_999) / 3_600_000
        let days = hours >= 0 ? hours / 24 : (hours - 23) / 24
        let hour = hours - days * 24
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(hour)):00:00Z"
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in the hub).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
