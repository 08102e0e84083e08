import Auth

/// The bytes of an admitted upgrade as libwebsockets gets them: without the
/// `bearer.<token>` entries of `Sec-WebSocket-Protocol`.
///
/// Why: libwebsockets 4.1.6 copies that header into a 128-byte buffer to pick
/// a protocol and refuses the upgrade when it does not fit ("protocol list
/// too long", `lib/roles/ws/server-ws.c`); a JWT alone is longer. It also
/// logs an unmatched list. The hub has already read the token from the
/// header (`Hub.authenticate`), so libwebsockets sees only `switchboard.v1`
/// (and whatever else was offered), picks it by name and answers the 101
/// with `Sec-WebSocket-Protocol: switchboard.v1`.
enum UpgradeHead {
    /// `bytes` (the head, then anything the client sent after it) with every
    /// `Sec-WebSocket-Protocol` line of the head rewritten without its
    /// `bearer.` entries, and dropped when nothing else is left. Bytes after
    /// the head are kept as they are; a head without such a line comes back
    /// unchanged.
    static func withoutBearerSubprotocol(_ bytes: [UInt8]) -> [UInt8] {
        guard let headEnd = endOfHead(bytes) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var changed = false
        var lineStart = 0
        while lineStart < headEnd {
            var next = lineStart
            while next < headEnd, bytes[next] != 0x0A { next += 1 }
            let lineEnd = min(next + 1, headEnd)  // after the LF
            let line = bytes[lineStart..<lineEnd]
            if let rewritten = rewrite(line) {
                changed = true
                out.append(contentsOf: rewritten)
            } else {
                out.append(contentsOf: line)
            }
            lineStart = lineEnd
        }
        guard changed else { return bytes }
        out.append(contentsOf: bytes[headEnd...])
        return out
    }

    private static let fieldName = Array("sec-websocket-protocol:".utf8)

    /// The replacement of a `Sec-WebSocket-Protocol` line that offers a token
    /// (empty to drop the line); nil for any other line.
    private static func rewrite(_ line: ArraySlice<UInt8>) -> [UInt8]? {
        guard line.count > fieldName.count,
              zip(line.prefix(fieldName.count), fieldName).allSatisfy({ lower($0) == $1 }) else { return nil }
        var contentEnd = line.endIndex
        while contentEnd > line.startIndex, line[contentEnd - 1] == 0x0A || line[contentEnd - 1] == 0x0D { contentEnd -= 1 }
        let value = String(decoding: line[(line.startIndex + fieldName.count)..<contentEnd], as: UTF8.self)
        guard BearerToken.offersToken(value) else { return nil }
        let kept = BearerToken.subprotocolsWithoutToken(value)
        guard !kept.isEmpty else { return [] }
        return Array(("Sec-WebSocket-Protocol: " + kept.joined(separator: ", ")).utf8) + line[contentEnd...]
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    /// The index just past the blank line that ends the head, or nil.
    private static func endOfHead(_ bytes: [UInt8]) -> Int? {
        // Blank lines before the request line are skipped, as the parser does.
        var i = 0
        var lineHasContent = false
        var sawContent = false
        while i < bytes.count {
            switch bytes[i] {
            case 0x0A:
                if !lineHasContent && sawContent { return i + 1 }
                sawContent = sawContent || lineHasContent
                lineHasContent = false
            case 0x0D:
                break
            default:
                lineHasContent = true
            }
            i += 1
        }
        return nil
    }
}
