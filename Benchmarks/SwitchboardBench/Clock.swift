#if canImport(Glibc)
import Glibc
#endif

/// Clocks and small process helpers shared by every part of the generator.
enum Clock {
    /// Monotonic microseconds: send stamps and receive times come from the
    /// same process, so one monotonic clock serves both ends of a latency.
    @inline(__always)
    static func monoUs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    /// Wall-clock milliseconds since the epoch (input `ts`).
    static func wallMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rest = timespec()
        while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
    }
}

/// Raises the open-file limit (soft and, as root, hard) so 20,000 idle
/// connections fit; children (the hub, nginx, lws-fanout) inherit it.
func raiseFileLimit(to wanted: rlim_t) -> rlim_t {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_max < wanted {
        var raised = rlimit(rlim_cur: wanted, rlim_max: wanted)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return wanted }
    }
    limit.rlim_cur = min(wanted, limit.rlim_max)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return limit.rlim_cur
}

/// Formats a number with a fixed count of decimals (no Foundation).
func fmt(_ value: Double, _ decimals: Int = 1) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    if decimals == 0 { return String(Int(rounded)) }
    var text = String(rounded)
    if text.contains("e") { return String(Int(rounded)) }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    let frac = parts.count > 1 ? String(parts[1]) : ""
    text = String(parts[0]) + "." + (frac + String(repeating: "0", count: decimals)).prefix(decimals)
    return text
}

/// Thousands with a k / M suffix for tables.
func human(_ value: Double) -> String {
    if value >= 1_000_000 { return fmt(value / 1_000_000, 2) + "M" }
    if value >= 10_000 { return fmt(value / 1000, 1) + "k" }
    return fmt(value, 0)
}

/// `print`, flushed at once (stdout is a pipe under make).
func say(_ text: String) {
    print(text)
    fflush(nil)
}
