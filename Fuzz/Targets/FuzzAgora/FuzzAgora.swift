import CallState
import Crypto
@testable import Providers

/// Agora NCS events posted to `/webhooks/agora`, signed here (V2 or V1 by
/// the first byte) so every input reaches the parser.
let secret = "fuzz-agora-secret"
let webhooks = Webhooks(secrets: ProviderSecrets(agoraSecret: secret))
let now: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAgora(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let key = Array(secret.utf8)
    var headers = ["content-type": "application/json"]
    if body.first.map({ $0 & 1 == 0 }) ?? true {
        headers["agora-signature-v2"] = Crypto.hex(Crypto.hmacSHA256(key: key, message: body))
    } else {
        headers["agora-signature"] = Crypto.hex(Crypto.hmacSHA1(key: key, message: body))
    }
    _ = try? webhooks.handle(.agora, WebhookRequest(path: "/webhooks/agora", headers: headers, body: body), now: now)
    return 0
}
