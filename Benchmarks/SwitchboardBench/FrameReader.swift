/// The server → client half of RFC 6455 for one generator connection that
/// libwebsockets opened as a raw socket: the upgrade response, then frames,
/// parsed a read at a time.
///
/// Why the generator has its own: libwebsockets 4.1.6's client parses a
/// frame's payload one byte per call of its state machine. With 1,000
/// subscribers on the same two cores as the server, that parser, not the
/// server, set every peer's delivered frames/s (BENCHMARKS.md, sessions 2-6).
/// Here a frame costs its header and one scan for the stamp. `--ws-client
/// lws` keeps the libwebsockets parser for comparison.
struct FrameReader {
    /// The Sec-WebSocket-Key the generator sends and the Sec-WebSocket-Accept
    /// that proves the server computed it (RFC 6455 §1.3's worked example).
    /// One fixed key is enough for a load generator: the server cannot tell.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    enum Event {
        /// The 101 response arrived with the right accept key.
        case upgraded
        /// One whole text or binary message (fragments joined).
        case message(UnsafeRawBufferPointer)
        /// A ping: answer with a pong carrying this payload.
        case ping(UnsafeRawBufferPointer)
        /// The server closed, or broke the protocol; drop the connection.
        case end(String)
    }

    private var upgraded = false
    /// Response bytes until the blank line.
    private var head: [UInt8] = []
    /// The start of a frame whose end has not arrived yet.
    private var carry: [UInt8] = []
    /// Fragments of a message in progress.
    private var fragments: [UInt8] = []
    private var inFragmentedMessage = false
    private(set) var ended = false

    /// The upgrade request for `path`.
    static func request(path: String, host: String, port: Int32) -> [UInt8] {
        Array(("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
    }

    /// Parses `input` and reports what it completes, in order.
    mutating func feed(_ input: UnsafeRawBufferPointer, _ on: (Event) -> Void) {
        guard !ended else { return }
        if !upgraded {
            head.append(contentsOf: input)
            guard let end = Self.blankLine(in: head) else {
                if head.count > 16_384 { finish("upgrade response over 16 KiB", on) }
                return
            }
            let response = String(decoding: head[..<end], as: UTF8.self)
            guard response.hasPrefix("HTTP/1.1 101"),
                  response.lowercased().contains("sec-websocket-accept: " + Self.accept.lowercased()) else {
                finish("upgrade refused: " + String(response.prefix(80)), on)
                return
            }
            upgraded = true
            on(.upgraded)
            let rest = Array(head[(end + 4)...])
            head = []
            rest.withUnsafeBytes { feedFrames($0, on) }
            return
        }
        feedFrames(input, on)
    }

    private mutating func feedFrames(_ input: UnsafeRawBufferPointer, _ on: (Event) -> Void) {
        if carry.isEmpty {
            let used = parse(input, on)
            if !ended, used < input.count { carry.append(contentsOf: input[used...]) }
            return
        }
        carry.append(contentsOf: input)
        var pending = carry
        carry = []
        let used = pending.withUnsafeBytes { parse($0, on) }
        if !ended, used < pending.count {
            pending.removeFirst(used)
            carry = pending
        }
    }

    /// Handles every whole frame at the front of `bytes`; returns the bytes used.
    private mutating func parse(_ bytes: UnsafeRawBufferPointer, _ on: (Event) -> Void) -> Int {
        var at = 0
        while !ended, bytes.count - at >= 2 {
            let b0 = bytes[at], b1 = bytes[at + 1]
            guard b0 & 0x70 == 0 else { finish("RSV bits set, no extension negotiated", on); break }
            guard b1 & 0x80 == 0 else { finish("masked server frame", on); break }
            var length = Int(b1 & 0x7f)
            var header = 2
            if length == 126 {
                guard bytes.count - at >= 4 else { break }
                length = Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
                header = 4
            } else if length == 127 {
                guard bytes.count - at >= 10 else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[at + 2 + $1]) }
                header = 10
            }
            guard bytes.count - at >= header + length else { break }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(at + header)..<(at + header + length)])
            at += header + length
            let final = b0 & 0x80 != 0
            switch b0 & 0x0f {
            case 0x1, 0x2:
                guard !inFragmentedMessage else { finish("new message inside a fragmented one", on); break }
                if final {
                    on(.message(payload))
                } else {
                    inFragmentedMessage = true
                    fragments = Array(payload)
                }
            case 0x0:
                guard inFragmentedMessage else { finish("continuation without a message", on); break }
                fragments.append(contentsOf: payload)
                if final {
                    inFragmentedMessage = false
                    let whole = fragments
                    fragments = []
                    whole.withUnsafeBytes { on(.message($0)) }
                }
            case 0x8: finish("closed by the server", on)
            case 0x9: on(.ping(payload))
            case 0xA: break
            default: finish("unknown opcode", on)
            }
        }
        return at
    }

    private mutating func finish(_ why: String, _ on: (Event) -> Void) {
        ended = true
        on(.end(why))
    }

    /// A masked pong echoing `payload` (≤ 125 bytes).
    static func pong(_ payload: UnsafeRawBufferPointer) -> [UInt8] {
        let mask: [UInt8] = [0x5b, 0x1e, 0xa7, 0x3c]
        var out: [UInt8] = [0x8A, 0x80 | UInt8(min(payload.count, 125))] + mask
        for (i, byte) in payload.prefix(125).enumerated() { out.append(byte ^ mask[i & 3]) }
        return out
    }

    private static func blankLine(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}
