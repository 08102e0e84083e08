import HTTP1
import Hub

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP/1.1 connection, read and written by the hub itself.
///
/// Requests are read one after another from the same bytes (pipelining,
/// RFC 9112 §9.3.2) and answered strictly in order: an answer that waits
/// for the journal holds back the ones behind it, never the other way
/// round. At most `maxInFlight` requests wait for answers; past that, and
/// while unsent output piles up, the connection stops reading, so a client
/// that sends faster than it reads only fills its own socket buffers.
///
/// Anything the parser cannot frame with certainty (`RequestParser`) is
/// answered with its status and `Connection: close`: the bytes after it
/// cannot be trusted to start a request.
final class HTTPConnection: IOHandler {
    let id: Int
    private(set) var fd: Int32
    /// The socket's peer address (before trusted-proxy resolution).
    let peer: String
    private unowned let server: Server
    private var watcher: IOWatcher!
    private var parser: RequestParser

    /// Bytes read and not yet parsed: `input[inputStart...]`.
    private var input: [UInt8] = []
    private var inputStart = 0
    /// The request whose body is being read.
    private var reading: HTTPExchange?
    /// A WebSocket opening handshake waiting for the answers before it.
    private var upgrade: (head: RequestHead, bytes: [UInt8])?
    /// Requests in arrival order, each until its answer is written.
    private var answers: [HTTPExchange] = []
    private var output: [UInt8] = []
    private var outputStart = 0
    /// No more requests are read; the connection closes once `output` is sent.
    private var closing = false
    private var peerClosed = false
    /// When the connection last made progress (bytes in or out), ms.
    private(set) var lastActivity: Int64
    /// When the head being read started arriving, and when its body did.
    private var headStartedAt: Int64?
    private var bodyStartedAt: Int64?
    private(set) var isClosed = false

    /// Most requests read ahead of their answers.
    static let maxInFlight = 16
    /// Unsent output past which no more requests are read.
    static let maxOutputBacklog = 256 * 1024

    init(id: Int, fd: Int32, peer: String, server: Server, loop: EventLoop, limits: RequestParser.Limits, now: Int64) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.server = server
        self.parser = RequestParser(limits: limits)
        self.lastActivity = now
        super.init()
        watcher = IOWatcher(fd: fd, loop: loop, handler: self)
        updateInterest()
    }

    /// Whether a request of this connection still waits for its answer.
    var hasRequestsInFlight: Bool { reading != nil || !answers.isEmpty || upgrade != nil }

    // MARK: - Events

    override func ioReady(readable: Bool, writable: Bool) {
        if writable { flushOutput() }
        if readable, !isClosed { readSocket() }
    }

    private func readSocket() {
        let now = server.now()
        // A few reads per turn at most: one connection never monopolises the loop.
        for _ in 0..<4 {
            guard !isClosed, !closing, !peerClosed, wantsInput else { break }
            if inputStart > 0 && (inputStart == input.count || inputStart > 64 * 1024) {
                input.removeFirst(inputStart)
                inputStart = 0
            }
            let scratch = server.readScratch
            let n = read(fd, scratch.baseAddress, scratch.count)
            if n > 0 {
                input.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                lastActivity = now
                if n < scratch.count { break }
                continue
            }
            if n == 0 {
                peerClosed = true
            } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                close()
                return
            }
            break
        }
        processInput(now: now)
        if peerClosed && !hasRequestsInFlight && outputStart == output.count { close() }
    }

    /// Whether the connection reads more requests now (back-pressure).
    private var wantsInput: Bool {
        answers.count < HTTPConnection.maxInFlight && output.count - outputStart < HTTPConnection.maxOutputBacklog
            && upgrade == nil
    }

    private func updateInterest() {
        guard !isClosed else { return }
        let read = !closing && !peerClosed && wantsInput
        watcher.want(read: read, write: outputStart < output.count)
    }

    // MARK: - Parsing

    /// Reads every complete element in the buffered bytes.
    private func processInput(now: Int64) {
        defer { updateInterest() }
        while !isClosed, !closing, upgrade == nil {
            if reading == nil && answers.count >= HTTPConnection.maxInFlight { return }
            if inputStart == input.count && !parser.hasEventPending { break }
            if headStartedAt == nil && reading == nil { headStartedAt = now }
            let step = input.withUnsafeBytes { parser.next(UnsafeRawBufferPointer(rebasing: $0[inputStart...])) }
            let base = inputStart
            switch step.event {
            case .needMore:
                inputStart += step.consumed
                if step.consumed == 0 { return }
            case .failed(let error):
                refuse(error.status, error.code, error.message)
                return
            case .head(let head):
                let bytes = Array(input[base..<(base + step.consumed)])
                inputStart += step.consumed
                headStartedAt = nil
                startRequest(head, headBytes: bytes, now: now)
            case .body(let range):
                inputStart += step.consumed
                guard let exchange = reading else { continue }
                let accepted = input.withUnsafeBytes {
                    server.bodyChunk(exchange, UnsafeRawBufferPointer(rebasing: $0[(base + range.lowerBound)..<(base + range.upperBound)]))
                }
                if !accepted {
                    refuse(413, "body_too_large", server.bodyLimitMessage(exchange))
                    return
                }
            case .end:
                inputStart += step.consumed
                finishBody()
            }
        }
        if upgrade != nil { tryUpgrade() }
    }

    private func startRequest(_ head: RequestHead, headBytes: [UInt8], now: Int64) {
        if head.isWebSocketUpgrade {
            guard head.framing == .none || head.framing == .length(0) else {
                refuse(400, "bad_request", "a WebSocket handshake carries no body")
                return
            }
            upgrade = (head, headBytes)
            return
        }
        let exchange = server.makeExchange(head, connection: self)
        if let limitError = server.refuseBodyEarly(exchange) {
            // Refused before reading: the body is never buffered, and since it
            // is not read either, the connection cannot continue.
            answers.append(exchange)
            exchange.response = limitError
            exchange.dispatched = true
            exchange.closeAfter = true
            closing = true
            flushAnswers()
            return
        }
        switch head.framing {
        case .none, .length(0):
            dispatch(exchange)
        default:
            reading = exchange
            bodyStartedAt = now
            if head.expectsContinue && answers.isEmpty { write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        }
    }

    private func finishBody() {
        guard let exchange = reading else { return }
        reading = nil
        bodyStartedAt = nil
        dispatch(exchange)
    }

    /// Queues a complete request. It is routed once every request before it
    /// has its answer: a `GET` pipelined behind a `POST` reads what the
    /// `POST` wrote (RFC 9112 §9.3.2 allows parallel work for safe methods
    /// only; one at a time is simpler and costs nothing measurable here).
    private func dispatch(_ exchange: HTTPExchange) {
        if !exchange.keepAlive { closing = true }
        answers.append(exchange)
        flushAnswers()
    }

    /// Answers a request that cannot be read and closes after it.
    private func refuse(_ status: Int, _ code: String, _ message: String) {
        server.logRefusal(status: status, path: reading?.request.path ?? upgrade?.head.path ?? "-", peer: peer)
        // The request whose body was being read is abandoned: forget it, or
        // the server would count it in flight (and a drain would wait for it).
        if let reading { server.finished(reading) }
        reading = nil
        let exchange = server.makeErrorExchange(connection: self)
        exchange.response = .error(status, code, message)
        exchange.dispatched = true
        exchange.closeAfter = true
        answers.append(exchange)
        closing = true
        flushAnswers()
    }

    // MARK: - Answers

    /// Called by the server when an answer that waited (journal, long-poll) is ready.
    func answered(_ exchange: HTTPExchange) {
        // Answered from inside `flushAnswers` (a route that completes at
        // once through the hub's callback): that loop writes it.
        guard !isClosed, !flushing else { return }
        flushAnswers()
        updateInterest()
        if upgrade != nil { tryUpgrade() }
        if !closing { processInput(now: server.now()) }
        // The peer half-closed while this answer was pending: once it is
        // written whole nothing is left to do, and nothing will read again.
        if !isClosed, peerClosed, !hasRequestsInFlight, outputStart == output.count { close() }
    }

    /// Routes the first waiting request once those before it are answered,
    /// and writes every answer at the front of the queue that is ready, in order.
    private var flushing = false

    private func flushAnswers() {
        guard !flushing else { return }
        flushing = true
        defer { flushing = false }
        var out: [UInt8] = []
        while let first = answers.first {
            if !first.dispatched {
                first.dispatched = true
                server.dispatch(first)
            }
            guard let response = first.response else { break }
            answers.removeFirst()
            server.finished(first)
            let close = first.closeAfter || closing && answers.isEmpty && reading == nil
            server.serialize(response, for: first, close: close, to: &out)
            if first.closeAfter {
                closing = true
                // Whatever was read after it is not answered.
                for rest in answers { server.finished(rest) }
                answers.removeAll()
                break
            }
        }
        if !out.isEmpty { write(out) }
        if closing && answers.isEmpty && outputStart == output.count {
            flushing = false
            close()
        }
    }

    private func write(_ bytes: [UInt8]) {
        guard !isClosed else { return }
        if outputStart == output.count {
            // Nothing queued: try the socket at once (the common case, one `send()`).
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n == bytes.count {
                lastActivity = server.now()
                return
            }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                close()
                return
            }
            output.removeAll(keepingCapacity: true)
            outputStart = 0
            output.append(contentsOf: bytes[max(n, 0)...])
        } else {
            output.append(contentsOf: bytes)
        }
        updateInterest()
    }

    private func flushOutput() {
        guard !isClosed, outputStart < output.count else { return }
        let n = output.withUnsafeBytes {
            send(fd, $0.baseAddress! + outputStart, $0.count - outputStart, Int32(MSG_NOSIGNAL))
        }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { close() }
            return
        }
        lastActivity = server.now()
        outputStart += n
        if outputStart == output.count {
            output.removeAll(keepingCapacity: false)
            outputStart = 0
            if closing && answers.isEmpty {
                close()
                return
            }
            if upgrade != nil { tryUpgrade() }
            if peerClosed && !hasRequestsInFlight {
                close()
                return
            }
            // Reading may have paused on the backlog.
            processInput(now: server.now())
        }
        updateInterest()
    }

    // MARK: - Upgrade

    /// Hands the connection to libwebsockets once every earlier answer is out.
    private func tryUpgrade() {
        guard let pending = upgrade, answers.isEmpty, outputStart == output.count, !isClosed else { return }
        upgrade = nil
        let rest = Array(input[inputStart...])
        let admission: Server.Admission
        switch server.admitUpgrade(pending.head, connection: self) {
        case .admit(let admitted):
            admission = admitted
        case .refuse(let refusal):
            let exchange = server.makeErrorExchange(connection: self)
            exchange.response = refusal
            exchange.dispatched = true
            exchange.closeAfter = true
            answers.append(exchange)
            closing = true
            flushAnswers()
            return
        }
        // From here libwebsockets owns the descriptor.
        watcher.stop()
        let fd = self.fd
        self.fd = -1
        isClosed = true
        server.connectionGone(self)
        server.adopt(fd: fd, bytes: pending.bytes + rest, admission: admission)
    }

    // MARK: - Timeouts and close

    /// Applies the read timeouts; called from the server's tick.
    func checkTimeouts(now: Int64, header: Int64, body: Int64, idle: Int64) {
        guard !isClosed else { return }
        if let started = headStartedAt, !closing, now - started > header {
            refuse(408, "request_timeout", "request head not received within limits.headerTimeoutMs")
        } else if let started = bodyStartedAt, reading != nil, now - started > body {
            refuse(408, "request_timeout", "request body not received within limits.bodyTimeoutMs")
        } else if now - lastActivity > idle && reading == nil && (answers.isEmpty || outputStart < output.count) {
            // Idle between requests, or a peer that stopped reading its answers.
            close()
        }
    }

    /// Closes at once: idle keep-alive connections when the hub drains.
    func closeIfIdle() {
        if !hasRequestsInFlight && outputStart == output.count && parser.isIdle && inputStart == input.count { close() }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        watcher.stop()
        closeDescriptor(fd)
        fd = -1
        if let reading { server.finished(reading) }
        for exchange in answers { server.finished(exchange) }
        answers.removeAll()
        reading = nil
        server.connectionGone(self)
    }
}

/// `close(2)`, named apart from the connection's own `close()`.
func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #elseif canImport(Darwin)
    _ = Darwin.close(fd)
    #endif
}
