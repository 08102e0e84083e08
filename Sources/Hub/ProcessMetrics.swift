#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard `process_*` gauges and `switchboard_build_info`, read at
/// scrape time, so dashboards and alerts see CPU, memory and descriptors
/// without a separate exporter.
enum ProcessMetrics {
    /// The hub's version, shown in `switchboard_build_info`.
    static let version = "1.1.0"

    /// When the process started (seconds since the epoch), read once.
    static let startTime: Double = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) - Double(uptimeSeconds())
    }()

    static func describe(_ m: Metrics) {
        m.describe("switchboard_build_info", type: "gauge", "always 1; the labels name the build")
        m.describe("process_cpu_seconds_total", type: "counter", "user and system CPU time of the hub")
        m.describe("process_resident_memory_bytes", type: "gauge", "resident set size")
        m.describe("process_open_fds", type: "gauge", "open file descriptors")
        m.describe("process_start_time_seconds", type: "gauge", "start time since the epoch")
    }

    static func gauges() -> [(String, [(String, String)], Double)] {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        var out: [(String, [(String, String)], Double)] = [
            ("switchboard_build_info", [("version", version)], 1),
            ("process_cpu_seconds_total", [], cpu),
            ("process_start_time_seconds", [], startTime.rounded()),
        ]
        if let rss = residentBytes() { out.append(("process_resident_memory_bytes", [], rss)) }
        if let fds = openDescriptors() { out.append(("process_open_fds", [], fds)) }
        return out
    }

    /// Seconds since this process started (Linux: /proc/self/stat field 22).
    private static func uptimeSeconds() -> Int {
        guard let stat = read("/proc/self/stat"), let close = stat.lastIndex(of: ")"),
              let uptime = read("/proc/uptime")?.split(separator: " ").first.flatMap({ Double($0) }) else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let started = Double(fields[19]) else { return 0 }
        return Int(uptime - started / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    private static func residentBytes() -> Double? {
        guard let statm = read("/proc/self/statm")?.split(separator: " "), statm.count > 1,
              let pages = Double(statm[1]) else { return nil }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func openDescriptors() -> Double? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = -1  // the directory's own descriptor
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return Double(max(count, 0))
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        #if canImport(Glibc)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        #else
        let n = buffer.withUnsafeMutableBytes { Darwin.read(fd, $0.baseAddress, $0.count) }
        #endif
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }
}
