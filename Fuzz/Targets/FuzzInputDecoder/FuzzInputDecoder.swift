import CallState
import Hub
import JSONCodec
import Logging

/// Client WebSocket messages (PROTOCOL.md §3.3) and `/sync` bodies through
/// the hub's own path: `Hub.handleMessage` (JSON parse, `InputDecoder`,
/// growth limits, merge, frames) and `InputDecoder.sync` + `Hub.accept`.
///
/// Each line of the input is one message, applied in order to one session of
/// a fresh hub (memory store), so a crash reproduces from its file alone.
/// Afterwards the growth limits must hold whatever was sent.
let config: HubConfig = {
    var c = HubConfig()
    c.limits.maxMetadataKeys = 8
    c.limits.maxMetadataValueBytes = 256
    c.limits.maxDocumentBytes = 4096
    return c
}()
let logger = Logger(label: "fuzz")
let client = ClientIdentity(sub: "fuzzer", role: .client, sid: "*")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInputDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let hub = try? Hub(config: config, frameHeadroom: 16, logger: logger) else { fatalError("hub init") }
    var now: Int64 = 1_795_000_000_000
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
        now += 7
        let message = Array(line)
        _ = hub.handleMessage(message, sessionId: "fuzz", identity: client, now: now) { _ in }
        if let body = try? JSONCodec.parse(message),
           let decoded = try? InputDecoder.sync(body, identity: client, receivedAt: now) {
            try? hub.accept(decoded, to: "fuzz", now: now) { _ in }
        }
    }
    if let doc = hub.document("fuzz") {
        // `presence` is added to the document for readers: at most ~16 bytes here.
        let size = JSONCodec.encode(doc.json).count
        precondition(size <= config.limits.maxDocumentBytes + 64, "document grew to \(size) bytes")
        let keys = doc.json["metadata"]?.objectValue?.count ?? 0
        precondition(keys <= config.limits.maxMetadataKeys, "document holds \(keys) metadata keys")
    }
    return 0
}
