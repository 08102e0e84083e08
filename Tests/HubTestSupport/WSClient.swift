import Foundation

/// A minimal RFC 6455 client over `TestSocket`: enough to subscribe, send
/// messages, observe close codes, and misbehave on purpose (never read, send
/// oversize frames, ignore pings).
public final class WSClient {
    public let socket: TestSocket
    /// Status line and headers of the handshake response.
    public let handshake: String
    public var answerPings = true

    public enum Event: Equatable {
        case text(String)
        case close(code: Int, reason: String)
    }

    public struct Rejected: Error, CustomStringConvertible {
        public let status: Int
        public let body: String
        public var description: String { "upgrade rejected: \(status) \(body)" }
    }

    public init(port: Int, path: String, headers: [String: String] = [:], receiveBuffer: Int? = nil,
                source: String? = nil) throws {
        socket = try TestSocket(port: port, receiveBuffer: receiveBuffer, source: source)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        try socket.write(request)
        let head = try socket.read(until: Array("\r\n\r\n".utf8), deadline: Date(timeIntervalSinceNow: 5))
        handshake = String(decoding: head, as: UTF8.self)
        let status = Int(handshake.split(separator: " ").dropFirst().first ?? "") ?? 0
        if status != 101 {
            let body = (try? socket.readToEnd(deadline: Date(timeIntervalSinceNow: 2))) ?? []
            throw Rejected(status: status, body: String(decoding: body, as: UTF8.self))
        }
    }

    /// Sends one masked text frame (or a frame of another opcode).
    public func send(_ text: String, opcode: UInt8 = 0x1) throws {
        try sendFrame(Array(text.utf8), opcode: opcode)
    }

    public func sendFrame(_ payload: [UInt8], opcode: UInt8, fin: Bool = true) throws {
        try socket.write(Self.frame(payload, opcode: opcode, fin: fin))
    }

    /// Sends several text messages in one write, so the hub reads them together.
    public func sendTogether(_ texts: [String]) throws {
        try socket.write(texts.flatMap { Self.frame(Array($0.utf8), opcode: 0x1, fin: true) })
    }

    /// One masked client frame (RFC 6455 §5.2).
    static func frame(_ payload: [UInt8], opcode: UInt8, fin: Bool) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let n = payload.count
        if n < 126 {
            frame.append(0x80 | UInt8(n))
        } else if n < 65536 {
            frame += [0x80 | 126, UInt8(n >> 8), UInt8(n & 0xff)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((n >> shift) & 0xff)) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// The next text or close frame; pings are answered unless `answerPings` is false.
    public func next(timeout: TimeInterval = 5) throws -> Event {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var message: [UInt8] = []
        while true {
            let head = try socket.read(2, deadline: deadline)
            let opcode = head[0] & 0x0f
            var length = Int(head[1] & 0x7f)
            if length == 126 {
                let ext = try socket.read(2, deadline: deadline)
                length = Int(ext[0]) << 8 | Int(ext[1])
            } else if length == 127 {
                let ext = try socket.read(8, deadline: deadline)
                length = ext.reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try socket.read(length, deadline: deadline)
            switch opcode {
            case 0x9:
                if answerPings { try sendFrame(payload, opcode: 0xA) }
            case 0x8:
                let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
                return .close(code: code, reason: String(decoding: payload.dropFirst(2), as: UTF8.self))
            case 0x0, 0x1:
                message += payload
                if head[0] & 0x80 != 0 { return .text(String(decoding: message, as: UTF8.self)) }
            default:
                continue
            }
        }
    }

    /// The next frame decoded as a JSON object; fails on close.
    public func nextJSON(timeout: TimeInterval = 5) throws -> [String: Any] {
        switch try next(timeout: timeout) {
        case .text(let text):
            return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        case .close(let code, let reason):
            throw UnexpectedClose(code: code, reason: reason)
        }
    }

    /// Reads frames until the connection closes; returns the close code.
    public func closeCode(timeout: TimeInterval = 10) throws -> Int {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw TestSocket.Timeout() }
            if case .close(let code, _) = try next(timeout: left) { return code }
        }
    }

    public struct UnexpectedClose: Error { public let code: Int; public let reason: String }
}
