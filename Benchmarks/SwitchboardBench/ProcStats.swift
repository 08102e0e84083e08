#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a server under test: CPU (utime + stime) and RSS,
/// summed over the process and its children (nginx master + worker).
enum ProcStats {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, file)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Fields of /proc/PID/stat after the `(comm)`: index 0 is the state.
    static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// The process and its direct children.
    static func family(_ pid: Int32) -> [Int32] {
        var pids = [pid]
        guard let dir = opendir("/proc") else { return pids }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let child = Int32(name), child != pid, let fields = statFields(child), fields.count > 1,
                  Int32(fields[1]) == pid else { continue }  // ppid
            pids.append(child)
        }
        return pids
    }

    /// CPU seconds (user + system) used so far.
    static func cpuSeconds(_ pids: [Int32]) -> Double {
        var ticks = 0.0
        for pid in pids {
            guard let f = statFields(pid), f.count > 13 else { continue }
            ticks += (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)  // utime, stime (fields 14, 15)
        }
        return ticks / ticksPerSecond
    }

    /// Resident set in KiB (VmRSS).
    static func rssKB(_ pids: [Int32]) -> Double {
        var total = 0.0
        for pid in pids {
            guard let text = read("/proc/\(pid)/status") else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                total += Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
        }
        return total
    }

    /// Kernel TCP memory in pages (/proc/net/sockstat "TCP: ... mem N").
    static func tcpMemPages() -> Double {
        guard let text = read("/proc/net/sockstat") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("TCP:") {
            let parts = line.split(separator: " ")
            if let i = parts.firstIndex(of: "mem"), i + 1 < parts.count { return Double(parts[i + 1]) ?? 0 }
        }
        return 0
    }

    /// Load average over the last minute.
    static func loadAverage() -> String {
        read("/proc/loadavg").map { String($0.split(separator: " ").prefix(3).joined(separator: " ")) } ?? "?"
    }
}

/// CPU and wall time between two samples.
struct CPUSample {
    let cpu: Double
    let wall: UInt64
    init(_ pids: [Int32]) {
        cpu = ProcStats.cpuSeconds(pids)
        wall = Clock.monoUs()
    }
    /// Percent of one core used since `start`.
    func percent(since start: CPUSample) -> Double {
        let wallS = Double(wall - start.wall) / 1e6
        return wallS > 0 ? (cpu - start.cpu) / wallS * 100 : 0
    }
}
