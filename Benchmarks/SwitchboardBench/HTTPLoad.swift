import CEpoll
import Histogram
#if canImport(Glibc)
import Glibc
#endif

/// The publishing half: raw-socket HTTP/1.1 keep-alive clients driven from
/// one thread with `epoll`, open loop at a target rate. (`poll` over every
/// connection on each turn was a tenth of the generator's CPU at 20,000/s,
/// on the core the hub's journal shares.)
///
/// Each connection carries one request at a time. An input's send stamp is
/// its *intended* send time (start + n / rate), so when every connection is
/// busy the wait counts as latency instead of silently lowering the rate
/// (no coordinated omission).
final class HTTPLoad {
    struct Result {
        var issued = 0
        var completed = 0
        var errors = 0
        var lastErrorStatus = ""
        var seconds = 0.0
        /// Request sent (intended time) → response read.
        var ack = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        /// How far behind schedule the last input went out, µs.
        var maxLagUs: UInt64 = 0
        var achievedRate: Double { seconds > 0 ? Double(completed) / seconds : 0 }
    }

    private struct Conn {
        var fd: Int32 = -1
        var out: [UInt8] = []
        var outOffset = 0
        var inBuf: [UInt8] = []
        var busy = false
        var sentAt: UInt64 = 0
    }

    let host: String
    let port: Int
    private var conns: [Conn]
    private var debugResponses = 2

    init(host: String, port: Int, connections: Int) {
        self.host = host
        self.port = port
        conns = Array(repeating: Conn(), count: max(1, connections))
    }

    deinit { for c in conns where c.fd >= 0 { close(c.fd) } }

    private func dial() -> Int32 { HTTPLoad.dial(host: host, port: port) }

    /// A connected, non-blocking TCP socket with `TCP_NODELAY`, or -1.
    private static func dial(host: String, port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 { close(fd); return -1 }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// Opens every connection. - Returns: false if one could not be opened.
    func open() -> Bool {
        for i in conns.indices where conns[i].fd < 0 {
            conns[i].fd = dial()
            if conns[i].fd < 0 { return false }
        }
        return true
    }

    /// Drives `rate` inputs/s for `seconds`, then waits (up to `drainSeconds`)
    /// for the outstanding answers.
    /// - Parameter make: builds input `n`'s request bytes; its second argument is the send stamp (µs).
    /// - Parameter closedLoop: ignore `rate`: each connection sends its next
    ///   input as soon as the answer to the last one is read (a backend that
    ///   awaits each answer), for `seconds`; latency runs from the real send.
    func run(rate: Double, seconds: Double, drainSeconds: Double = 3, closedLoop: Bool = false,
             make: (Int, UInt64) -> [UInt8]) -> Result {
        var result = Result()
        let total = closedLoop ? Int.max : max(1, Int(rate * seconds))
        let start = Clock.monoUs()
        let issueUntil = start + UInt64(seconds * 1e6)
        let stopAt = start + UInt64((seconds + drainSeconds) * 1e6)
        var idle: [Int] = Array(conns.indices.reversed())
        var inflight = 0
        let poller = epoll_create1(Int32(EPOLL_CLOEXEC))
        defer { close(poller) }
        /// Watches connection `i`: readable always, writable while a request is half sent.
        func watch(_ i: Int, _ op: Int32) {
            guard conns[i].fd >= 0 else { return }
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | (conns[i].outOffset < conns[i].out.count ? EPOLLOUT.rawValue : 0)
            event.data.u64 = UInt64(i)
            _ = epoll_ctl(poller, op, conns[i].fd, &event)
        }
        for i in conns.indices { watch(i, EPOLL_CTL_ADD) }
        var events = [epoll_event](repeating: epoll_event(), count: conns.count)
        var lastIssueAt = start
        var chunk = [UInt8](repeating: 0, count: 65536)

        while true {
            let now = Clock.monoUs()
            if now >= stopAt { break }
            let due = closedLoop ? (now < issueUntil ? Int.max : result.issued)
                                 : min(total, Int(Double(now - start) * rate / 1e6) + 1)
            while result.issued < due, let ci = idle.popLast() {
                let scheduled = closedLoop ? now : start + UInt64(Double(result.issued) * 1e6 / rate)
                if now > scheduled { result.maxLagUs = max(result.maxLagUs, now - scheduled) }
                conns[ci].out = make(result.issued, scheduled)
                if result.issued == 0 && getenv("SWITCHBOARD_BENCH_DEBUG") != nil {
                    say("  first request: " + String(decoding: conns[ci].out, as: UTF8.self))
                }
                conns[ci].outOffset = 0
                conns[ci].busy = true
                conns[ci].sentAt = scheduled
                result.issued += 1
                inflight += 1
                lastIssueAt = now
                flush(ci)
                if conns[ci].outOffset < conns[ci].out.count { watch(ci, EPOLL_CTL_MOD) }
            }
            if (result.issued >= total || closedLoop && now >= issueUntil) && inflight == 0 { break }

            var timeoutUs: UInt64 = 5000
            if !closedLoop && result.issued < total && !idle.isEmpty {
                let next = start + UInt64(Double(result.issued) * 1e6 / rate)
                timeoutUs = next > now ? min(next - now, 5000) : 0
            }
            // Idle connections are watched too: a server may close an idle
            // keep-alive connection (libwebsockets does after 10 s without a
            // request), and a client must notice before it sends on it.
            // epoll_wait has 1 ms resolution: below that, sleep the rest
            // (responses wait at most that long; send stamps are intended times).
            let n = epoll_wait(poller, &events, Int32(events.count), Int32(timeoutUs / 1000))
            if n == 0 && timeoutUs < 1000 && timeoutUs > 0 { Clock.sleep(seconds: Double(timeoutUs) / 1e6) }
            if n <= 0 { continue }
            for e in 0..<Int(n) {
                let i = Int(events[e].data.u64)
                let ready = events[e].events
                if ready & EPOLLOUT.rawValue != 0 {
                    flush(i)
                    if conns[i].outOffset >= conns[i].out.count { watch(i, EPOLL_CTL_MOD) }
                }
                guard ready & (EPOLLIN.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 else { continue }
                let got = chunk.withUnsafeMutableBytes { read(conns[i].fd, $0.baseAddress, $0.count) }
                if got <= 0 {
                    if got < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                    let wasBusy = conns[i].busy
                    let sentAtOfClosed = conns[i].sentAt
                    close(conns[i].fd)  // also leaves the epoll set
                    conns[i] = Conn()
                    conns[i].fd = dial()
                    watch(i, EPOLL_CTL_ADD)
                    if wasBusy {
                        // Peer closed with a request in flight: it is lost.
                        result.errors += 1
                        result.lastErrorStatus = "connection closed"
                        if getenv("SWITCHBOARD_BENCH_DEBUG") != nil {
                            say("  closed with a request in flight for \((Clock.monoUs() - sentAtOfClosed) / 1000) ms")
                        }
                        inflight -= 1
                        if conns[i].fd >= 0 { idle.append(i) }
                    } else if conns[i].fd < 0, let at = idle.firstIndex(of: i) {
                        // An idle keep-alive connection closed by the server:
                        // reconnect, as HTTP clients do; nothing was lost.
                        idle.remove(at: at)
                    }
                    continue
                }
                conns[i].inBuf.append(contentsOf: chunk[0..<got])
                if debugResponses > 0 && getenv("SWITCHBOARD_BENCH_DEBUG") != nil {
                    debugResponses -= 1
                    say("  response: " + String(decoding: conns[i].inBuf.prefix(400), as: UTF8.self))
                }
                if let status = Self.takeResponse(&conns[i].inBuf) {
                    let done = Clock.monoUs()
                    _ = result.ack.record(done > conns[i].sentAt ? done - conns[i].sentAt : 0)
                    if status < 200 || status >= 300 {
                        result.errors += 1
                        result.lastErrorStatus = String(status)
                    } else {
                        result.completed += 1
                    }
                    conns[i].busy = false
                    inflight -= 1
                    idle.append(i)
                }
            }
        }
        result.seconds = max(Double(lastIssueAt - start) / 1e6, seconds)
        // Anything still in flight is abandoned with its connection.
        for i in conns.indices where conns[i].busy {
            close(conns[i].fd)
            conns[i] = Conn()
            conns[i].fd = dial()
        }
        return result
    }

    private func flush(_ i: Int) {
        while conns[i].outOffset < conns[i].out.count {
            let n = conns[i].out.withUnsafeBytes { raw in
                write(conns[i].fd, raw.baseAddress! + conns[i].outOffset, raw.count - conns[i].outOffset)
            }
            if n <= 0 { return }
            conns[i].outOffset += n
        }
    }

    /// One blocking `GET` on a fresh connection (`Connection: close`); the
    /// response body, or nil on any failure or a status other than 200.
    static func get(host: String, port: Int, path: String, bearer: String) -> String? {
        let fd = dial(host: host, port: port)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(bearer)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { return nil }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 200"), let body = text.suffix(after: "\r\n\r\n") else { return nil }
        return String(body)
    }

    /// Removes one complete response from `buffer`; returns its status.
    static func takeResponse(_ buffer: inout [UInt8]) -> Int? {
        let parsed: (status: Int, length: Int)? = buffer.withUnsafeBufferPointer { b in
            let count = b.count
            guard count >= 12 else { return nil }
            var headerEnd = -1
            var i = 3
            while i < count {
                if b[i] == 10 && b[i - 1] == 13 && b[i - 2] == 10 && b[i - 3] == 13 { headerEnd = i + 1; break }
                i += 1
            }
            guard headerEnd > 0 else { return nil }
            var status = 0
            i = 0
            while i < headerEnd && b[i] != 32 { i += 1 }
            i += 1
            while i < headerEnd, b[i] >= 48, b[i] <= 57 { status = status * 10 + Int(b[i] - 48); i += 1 }
            var length = 0
            let key = contentLengthKey
            var j = 0
            search: while j + key.count < headerEnd {
                var k = 0
                while k < key.count {
                    let c = b[j + k] | (b[j + k] >= 65 && b[j + k] <= 90 ? 32 : 0)
                    if c != key[k] { j += 1; continue search }
                    k += 1
                }
                var p = j + key.count
                while p < headerEnd && b[p] == 32 { p += 1 }
                while p < headerEnd, b[p] >= 48, b[p] <= 57 { length = length * 10 + Int(b[p] - 48); p += 1 }
                break
            }
            guard count >= headerEnd + length else { return nil }
            return (status, headerEnd + length)
        }
        guard let parsed else { return nil }
        if parsed.length == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeFirst(parsed.length)
        }
        return parsed.status
    }

    private static let contentLengthKey = Array("content-length:".utf8)
}

extension String {
    /// What follows the first occurrence of `marker`, or nil.
    func suffix(after marker: String) -> Substring? {
        let needle = Array(marker.utf8)
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i...].starts(with: needle) { return self[utf8.index(i, offsetBy: needle.count)...] }
            i = utf8.index(after: i)
        }
        return nil
    }
}
