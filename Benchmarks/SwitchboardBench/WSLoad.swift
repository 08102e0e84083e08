import CLibWebSockets
import Histogram
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The subscribing half of the generator: one libwebsockets client context,
/// every WebSocket on one service thread (the same shape as the hub).
///
/// By default libwebsockets opens each connection as a raw socket and
/// `FrameReader` does the upgrade and the framing (see there for why);
/// with `rawFraming` false libwebsockets' own WebSocket client does both.
///
/// Each received text frame is scanned for the send stamp the publisher put
/// in the input (`"bts":"<µs>"`, a metadata value for the hub, a member of
/// the message for the peers); the difference to now is the delivery latency.
final class WSLoad: @unchecked Sendable {
    /// What one connection is for.
    struct Target {
        var path: String
        /// The first frame (the hub's snapshot / summary) marks it ready,
        /// not the handshake alone.
        var readyOnFirstFrame: Bool
    }

    /// Counters and the latency histogram: written by the service thread,
    /// read by the orchestrating thread between steps.
    struct Stats {
        var frames = 0           // frames carrying a send stamp
        var otherFrames = 0      // snapshots, presence, dashboard batches, …
        var bytes = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var established = 0
        var ready = 0
        var failed = 0
        var closed = 0
        var stampedBytes = 0     // payload bytes of stamped frames (mean frame size)
    }

    let host: String
    let port: Int32
    let stats = Mutex(Stats())

    private var context: OpaquePointer?
    private let protocols: UnsafeMutablePointer<lws_protocols>
    private let protocolName: UnsafeMutablePointer<CChar>
    private let hostC: UnsafeMutablePointer<CChar>
    private var thread: pthread_t?
    private let stopFlag = Atomic<Bool>(false)
    /// Whether libev runs the loop (then `lws_service` returns only once the
    /// context is being destroyed, which `stopTimer` does).
    private var usingEventLibrary = false
    private let stopTimer: UnsafeMutablePointer<CLibWebSockets_timer> = {
        let timer = UnsafeMutablePointer<CLibWebSockets_timer>.allocate(capacity: 1)
        timer.initialize(to: CLibWebSockets_timer())
        return timer
    }()

    // Service-thread state.
    private var targets: [Target] = []
    private var pathsC: [UnsafeMutablePointer<CChar>] = []
    private var wsis: [OpaquePointer?] = []
    private var gotFirst: [Bool] = []
    /// Raw framing: one reader per connection, and whether its upgrade request went out.
    private var readers: [FrameReader] = []
    private var requestSent: [Bool] = []
    private let rawFraming: Bool
    private let rawMethod = strdup("RAW")!
    /// Frames counted during one receive callback, handed to `stats` under one lock.
    private var batch = Batch()
    private var nextToConnect = 0
    private var connecting = 0
    private let maxConnecting = 128
    /// Connections asked for by the orchestrator, waiting for the service thread.
    private let requests = Mutex<[Target]>([])
    private let closeRequested = Atomic<Bool>(false)
    /// The tail of a stamped frame split across fragments.
    private var carry: [Int: [UInt8]] = [:]
    private var debugAll = Int(String(cString: getenv("SWITCHBOARD_BENCH_DEBUG_ALL") ?? strdup("0"))) ?? 0
    /// `SWITCHBOARD_BENCH_DEBUG=N`: print the first N frames that carry no stamp.
    private var debugFrames = Int(String(cString: getenv("SWITCHBOARD_BENCH_DEBUG") ?? strdup("0"))) ?? 0

    init(host: String, port: Int, rxBufferSize: Int, rawFraming: Bool) {
        self.rawFraming = rawFraming
        self.host = host
        self.port = Int32(port)
        hostC = strdup(host)
        protocolName = strdup("bench")
        protocols = .allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(protocolName)
        protocols[0].callback = benchClientCallback
        protocols[0].per_session_data_size = 0
        protocols[0].rx_buffer_size = rxBufferSize
    }

    deinit {
        protocols.deallocate()
        stopTimer.deallocate()
        free(protocolName)
        free(rawMethod)
        free(hostC)
        for p in pathsC { free(p) }
    }

    /// Creates the context and starts the service thread.
    func start() {
        var info = lws_context_creation_info()
        info.port = CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        // The same epoll loop as the hub: with poll() the generator walks all
        // ~2,000 sockets per turn, saturates its core, and adds its own
        // queueing to every latency it reports.
        info.options = CLibWebSockets_clientOptions(0, 1)
        info.timeout_secs = 30
        // A raw connection reads into the service thread's buffer: one read
        // can then take a whole batch of frames.
        info.pt_serv_buf_size = rawFraming ? 65536 : 0
        lws_set_log_level(LLL_ERR, nil)
        context = lws_create_context(&info)
        usingEventLibrary = context != nil
        if context == nil {
            info.options = 0
            context = lws_create_context(&info)
        }
        precondition(context != nil, "lws client context failed")
        if usingEventLibrary, let context {
            stopTimer.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
            lws_sul_schedule(context, 0, &stopTimer.pointee.sul, benchStopCheck, 20_000)
        }
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        pthread_create(&tid, nil, { arg in
            let me = Unmanaged<WSLoad>.fromOpaque(arg!).takeRetainedValue()
            me.serviceLoop()
            return nil
        }, box)
        thread = tid
    }

    private func serviceLoop() {
        guard let context else { return }
        while !stopFlag.load(ordering: .acquiring) {
            if lws_service(context, 0) < 0 { break }
        }
        // With libev the stop timer began the destruction; this completes it.
        lws_context_destroy(context)
        self.context = nil
    }

    /// With libev: every 20 ms, ends the loop once `stop()` was asked, from a
    /// loop timer as the libwebsockets event-library examples do.
    fileprivate func checkStop() {
        guard let context else { return }
        if stopFlag.load(ordering: .acquiring) {
            lws_context_destroy(context)
        } else {
            lws_sul_schedule(context, 0, &stopTimer.pointee.sul, benchStopCheck, 20_000)
        }
    }

    /// Stops the thread; every connection is dropped with the context.
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        if let context { lws_cancel_service(context) }
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    /// Asks for more connections; they are opened at most `maxConnecting` at a time.
    func open(_ more: [Target]) {
        requests.withLock { $0.append(contentsOf: more) }
        if let context { lws_cancel_service(context) }
    }

    /// Takes the stats since the last call (the histogram restarts).
    func takeStats() -> Stats {
        stats.withLock { s in
            let out = s
            s.frames = 0; s.otherFrames = 0; s.bytes = 0; s.stampedBytes = 0
            s.latency.reset()
            return out
        }
    }

    func peekCounts() -> (ready: Int, failed: Int, closed: Int, frames: Int) {
        stats.withLock { ($0.ready, $0.failed, $0.closed, $0.frames) }
    }

    // MARK: - Service thread

    private func connectMore() {
        let incoming = requests.withLock { r -> [Target] in defer { r = [] }; return r }
        for t in incoming {
            targets.append(t)
            pathsC.append(strdup(t.path))
            wsis.append(nil)
            gotFirst.append(false)
            readers.append(FrameReader())
            requestSent.append(false)
        }
        while connecting < maxConnecting, nextToConnect < targets.count {
            let index = nextToConnect
            nextToConnect += 1
            var info = lws_client_connect_info()
            info.context = context
            info.address = UnsafePointer(hostC)
            info.port = port
            info.path = UnsafePointer(pathsC[index])
            info.host = UnsafePointer(hostC)
            info.origin = nil
            info.protocol = nil
            info.local_protocol_name = UnsafePointer(protocolName)
            info.ietf_version_or_minus_one = -1
            info.opaque_user_data = UnsafeMutableRawPointer(bitPattern: index + 1)
            if rawFraming { info.method = UnsafePointer(rawMethod) }
            connecting += 1
            if lws_client_connect_via_info(&info) == nil {
                connecting -= 1
                stats.withLock { $0.failed += 1 }
            }
        }
    }

    func handle(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_CLIENT_RECEIVE:
            guard let wsi, let input else { return 0 }
            receive(wsi, input, len)
            return 0
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            guard let wsi else { return 0 }
            established(wsi)
            return 0
        case LWS_CALLBACK_RAW_CONNECTED:
            if let wsi { lws_callback_on_writable(wsi) }
            return 0
        case LWS_CALLBACK_RAW_WRITEABLE:
            guard let wsi else { return 0 }
            let index = Int(bitPattern: lws_get_opaque_user_data(wsi)) - 1
            guard !requestSent[index] else { return 0 }
            requestSent[index] = true
            return Self.writeRaw(wsi, FrameReader.request(path: targets[index].path, host: host, port: port)) ? 0 : -1
        case LWS_CALLBACK_RAW_RX:
            guard let wsi, let input else { return 0 }
            return rawReceive(wsi, UnsafeRawBufferPointer(start: input, count: len))
        case LWS_CALLBACK_RAW_CLOSE:
            guard let wsi else { return 0 }
            let index = Int(bitPattern: lws_get_opaque_user_data(wsi)) - 1
            if wsis[index] == nil {
                // Closed before the upgrade completed: a failed connection.
                connecting -= 1
                stats.withLock { $0.failed += 1 }
                connectMore()
            } else {
                wsis[index] = nil
                stats.withLock { $0.closed += 1 }
            }
            return 0
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            connecting -= 1
            stats.withLock { $0.failed += 1 }
            if let input, len > 0, stats.withLock({ $0.failed }) <= 3 {
                let text = String(decoding: UnsafeRawBufferPointer(start: input, count: len), as: UTF8.self)
                say("  ws connect error: \(text)")
            }
            connectMore()
            return 0
        case LWS_CALLBACK_CLIENT_CLOSED:
            if let wsi {
                let index = Int(bitPattern: lws_get_opaque_user_data(wsi)) - 1
                if index >= 0 && index < wsis.count { wsis[index] = nil }
            }
            stats.withLock { $0.closed += 1 }
            return 0
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            connectMore()
            return 0
        default:
            return 0
        }
    }

    private func established(_ wsi: OpaquePointer) {
        let index = Int(bitPattern: lws_get_opaque_user_data(wsi)) - 1
        connecting -= 1
        wsis[index] = wsi
        let ready = !targets[index].readyOnFirstFrame
        stats.withLock { s in s.established += 1; if ready { s.ready += 1 } }
        connectMore()
    }

    /// Raw framing: everything one read brought, through the connection's reader.
    private func rawReceive(_ wsi: OpaquePointer, _ input: UnsafeRawBufferPointer) -> Int32 {
        let now = Clock.monoUs()
        let index = Int(bitPattern: lws_get_opaque_user_data(wsi)) - 1
        var result: Int32 = 0
        readers[index].feed(input) { event in
            switch event {
            case .upgraded:
                established(wsi)
            case .message(let payload):
                count(payload, index: index, now: now)
            case .ping(let payload):
                if !Self.writeRaw(wsi, FrameReader.pong(payload)) { result = -1 }
            case .end(let why):
                if stats.withLock({ $0.failed + $0.closed }) < 3 { say("  ws connection \(index) ended: \(why)") }
                result = -1
            }
        }
        flushBatch()
        return result
    }

    /// Hands `bytes` to a raw connection as they are (libwebsockets wants
    /// `LWS_PRE` bytes of headroom before them); false when it failed.
    private static func writeRaw(_ wsi: OpaquePointer, _ bytes: [UInt8]) -> Bool {
        let pre = Int(CLibWebSockets_PRE)
        var buffer = [UInt8](repeating: 0, count: pre) + bytes
        return buffer.withUnsafeMutableBufferPointer { lws_write(wsi, $0.baseAddress! + pre, bytes.count, LWS_WRITE_HTTP) } == bytes.count
    }

    @inline(__always)
    private func receive(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer, _ len: Int) {
        let now = Clock.monoUs()
        let index = Int(bitPattern: lws_get_opaque_user_data(wsi)) - 1
        let first = lws_is_first_fragment(wsi) != 0
        let final = lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0
        var stamp: UInt64?
        if first && final {
            stamp = Self.findStamp(UnsafeRawBufferPointer(start: input, count: len))
        } else {
            // Rare (frames above the rx buffer): reassemble, then scan.
            // lws reports a frame that spans several reads as several
            // deliveries, each still flagged "first fragment": the carry,
            // not the flag, says whether one is in progress.
            _ = first
            var buffer = carry[index] ?? []
            buffer.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
            if !final { carry[index] = buffer; return }
            carry[index] = nil
            stamp = buffer.withUnsafeBytes { Self.findStamp($0) }
        }
        if debugAll > 0 {
            debugAll -= 1
            say("  frame lat \(stamp.map { Int64(now) - Int64($0) } ?? -1) idx \(index) first \(first) final \(final) len \(len) stamp \(String(describing: stamp)): " + String(decoding: UnsafeRawBufferPointer(start: input, count: min(len, 80)), as: UTF8.self))
        }
        if stamp == nil && debugFrames > 0 {
            debugFrames -= 1
            say("  frame without stamp: " + String(decoding: UnsafeRawBufferPointer(start: input, count: min(len, 600)), as: UTF8.self))
        }
        record(stamp: stamp, bytes: len, index: index, now: now)
        flushBatch()
    }

    /// One whole message from the raw reader.
    @inline(__always)
    private func count(_ payload: UnsafeRawBufferPointer, index: Int, now: UInt64) {
        record(stamp: Self.findStamp(payload), bytes: payload.count, index: index, now: now)
    }

    private struct Batch {
        var frames = 0, otherFrames = 0, bytes = 0, stampedBytes = 0, ready = 0
        var latencies: [UInt64] = []
    }

    @inline(__always)
    private func record(stamp: UInt64?, bytes: Int, index: Int, now: UInt64) {
        batch.bytes += bytes
        if let stamp {
            batch.frames += 1
            batch.stampedBytes += bytes
            batch.latencies.append(now > stamp ? now - stamp : 0)
        } else {
            batch.otherFrames += 1
        }
        if index >= 0 && index < gotFirst.count && !gotFirst[index] {
            gotFirst[index] = true
            if targets[index].readyOnFirstFrame { batch.ready += 1 }
        }
    }

    private func flushBatch() {
        guard batch.bytes > 0 || batch.ready > 0 else { return }
        stats.withLock { s in
            s.bytes += batch.bytes
            s.frames += batch.frames
            s.stampedBytes += batch.stampedBytes
            s.otherFrames += batch.otherFrames
            s.ready += batch.ready
            for latency in batch.latencies { _ = s.latency.record(latency) }
        }
        batch.frames = 0; batch.otherFrames = 0; batch.bytes = 0; batch.stampedBytes = 0; batch.ready = 0
        batch.latencies.removeAll(keepingCapacity: true)
    }

    /// The µs stamp after `"bts":"`, or nil.
    @inline(__always)
    static func findStamp(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let base = bytes.baseAddress else { return nil }
        let start = base.assumingMemoryBound(to: UInt8.self)
        let end = start + bytes.count
        // `"bts":"` then digits; memchr finds each 'b' candidate.
        var p = start
        while p + 7 < end {
            guard let hit = memchr(p, 98, end - p) else { return nil }   // 'b'
            let b = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self))
            if b > start, b + 6 < end, b[-1] == 34, b[1] == 116, b[2] == 115, b[3] == 34, b[4] == 58, b[5] == 34 {
                var q = b + 6
                var value: UInt64 = 0
                var digits = 0
                while q < end, q.pointee >= 48, q.pointee <= 57 {
                    value = value * 10 + UInt64(q.pointee - 48)
                    q += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            p = b + 1
        }
        return nil
    }
}

/// The client protocol callback: finds the `WSLoad` through the context user pointer.
func benchClientCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                         _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else { return 0 }
    return Unmanaged<WSLoad>.fromOpaque(owner).takeUnretainedValue().handle(wsi, reason, input, len)
}

/// The generator's stop timer; the owner travels in the enclosing struct.
private func benchStopCheck(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul, let owner = CLibWebSockets_timerOwner(sul) else { return }
    Unmanaged<WSLoad>.fromOpaque(owner).takeUnretainedValue().checkStop()
}
