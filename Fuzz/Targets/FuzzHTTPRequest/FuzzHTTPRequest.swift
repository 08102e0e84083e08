import HTTP1

/// The HTTP/1.1 request parser (Sources/HTTP1): the input is a byte stream
/// from one connection. It is read twice, whole and in pieces whose sizes
/// come from the input itself, and both readings must agree: a parser whose
/// framing depends on how the bytes arrive is a smuggling bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let whole = read(bytes, step: { _ in Int.max })
    let pieces = read(bytes, step: { at in Int(bytes[at % max(bytes.count, 1)] % 17) + 1 })
    precondition(whole == pieces, "framing depends on how the bytes arrive")
    return 0
}

/// What one parser reports over `bytes`: heads (method, path, framing), body bytes, ends, the error status.
private func read(_ bytes: [UInt8], step: (Int) -> Int) -> [String] {
    var parser = RequestParser(limits: .init(maxHeadBytes: 2048, maxFields: 32))
    var buffer: [UInt8] = []
    var fed = 0
    var out: [String] = []
    var body: [UInt8] = []
    while true {
        let result = buffer.withUnsafeBytes { parser.next($0) }
        precondition(result.consumed <= buffer.count, "consumed more than it was given")
        switch result.event {
        case .needMore:
            buffer.removeFirst(result.consumed)
            if fed == bytes.count {
                if !body.isEmpty { out.append("body \(body)") }
                return out
            }
            let take = min(bytes.count - fed, step(fed))
            buffer += bytes[fed..<(fed + take)]
            fed += take
        case .head(let head):
            buffer.removeFirst(result.consumed)
            precondition(!head.path.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "control byte in a decoded path")
            out.append("head \(head.method) \(head.path) \(head.framing) \(head.keepAlive)")
        case .body(let range):
            body += buffer[range]
            buffer.removeFirst(result.consumed)
        case .end:
            buffer.removeFirst(result.consumed)
            out.append("body \(body)")
            out.append("end")
            body = []
        case .failed(let error):
            out.append("failed \(error.status)")
            return out
        }
    }
}
