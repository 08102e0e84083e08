/// Counters, gauges and histograms for `GET /metrics` (Prometheus text
/// format 0.0.4).
///
/// Touched only on the reactor thread, so plain dictionaries suffice: no
/// atomics on the hot path. Label sets are small and fixed by the code.
public final class Metrics {
    struct Key: Hashable, Comparable {
        let name: String
        let labels: String  // rendered `{a="b",c="d"}` or ""
        static func < (a: Key, b: Key) -> Bool { (a.name, a.labels) < (b.name, b.labels) }
    }

    /// A cumulative histogram with fixed upper bounds.
    struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count)
        }

        mutating func observe(_ value: Double) {
            for i in bounds.indices where value <= bounds[i] { counts[i] += 1 }
            sum += value
            count += 1
        }
    }

    /// A counter resolved once, for per-frame call sites: adding to it is one
    /// store, where `increment(_:_:by:)` renders labels and hashes the key.
    public final class Counter {
        public private(set) var value: Double = 0
        public func add(_ by: Double = 1) { value += by }
    }

    private var counters: [Key: Counter] = [:]
    /// The same counters by name and raw label pairs, so a repeated
    /// `increment` neither renders nor escapes its labels again.
    private var countersByLabels: [[String]: Counter] = [:]
    private var histograms: [Key: Histogram] = [:]
    private var help: [String: (type: String, text: String)] = [:]

    public init() {}

    /// Adds `by` to a counter.
    public func increment(_ name: String, _ labels: [(String, String)] = [], by: Double = 1) {
        counter(name, labels).add(by)
    }

    /// The counter `name{labels}`, created at 0 if new; keep it for hot paths.
    public func counter(_ name: String, _ labels: [(String, String)] = []) -> Counter {
        let raw = [name] + labels.flatMap { [$0.0, $0.1] }
        if let known = countersByLabels[raw] { return known }
        let key = Key(name: name, labels: Metrics.render(labels))
        let counter = counters[key] ?? Counter()
        counters[key] = counter
        countersByLabels[raw] = counter
        return counter
    }

    /// Records one observation in a histogram with the given bucket bounds.
    public func observe(_ name: String, _ value: Double, bounds: [Double], _ labels: [(String, String)] = []) {
        let key = Key(name: name, labels: Metrics.render(labels))
        histograms[key, default: Histogram(bounds: bounds)].observe(value)
    }

    /// Declares a metric's type and help line (once, at start).
    public func describe(_ name: String, type: String, _ text: String) {
        help[name] = (type, text)
    }

    /// The exposition text. `gauges` are computed by the caller at scrape time.
    public func render(gauges: [(String, [(String, String)], Double)]) -> String {
        var out = ""
        var described: Set<String> = []
        func header(_ name: String) {
            guard described.insert(name).inserted, let h = help[name] else { return }
            out += "# HELP \(name) \(h.text)\n# TYPE \(name) \(h.type)\n"
        }
        for (name, labels, value) in gauges {
            header(name)
            out += "\(name)\(Metrics.render(labels)) \(Metrics.number(value))\n"
        }
        for key in counters.keys.sorted() {
            header(key.name)
            out += "\(key.name)\(key.labels) \(Metrics.number(counters[key]!.value))\n"
        }
        for key in histograms.keys.sorted() {
            header(key.name)
            let h = histograms[key]!
            let inner = key.labels.isEmpty ? "" : String(key.labels.dropFirst().dropLast()) + ","
            for (i, bound) in h.bounds.enumerated() {
                out += "\(key.name)_bucket{\(inner)le=\"\(Metrics.number(bound))\"} \(h.counts[i])\n"
            }
            out += "\(key.name)_bucket{\(inner)le=\"+Inf\"} \(h.count)\n"
            out += "\(key.name)_sum\(key.labels) \(Metrics.number(h.sum))\n"
            out += "\(key.name)_count\(key.labels) \(h.count)\n"
        }
        // Families with no series yet still say what they are.
        for name in help.keys.sorted() where !described.contains(name) { header(name) }
        return out
    }

    static func render(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        let body = labels.map { name, value in
            let escaped = value.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"").replacingAll("\n", "\\n")
            return "\(name)=\"\(escaped)\""
        }.joined(separator: ",")
        return "{\(body)}"
    }

    static func number(_ v: Double) -> String {
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }  // the exposition format's spelling
        return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}

extension String {
    func replacingAll(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
