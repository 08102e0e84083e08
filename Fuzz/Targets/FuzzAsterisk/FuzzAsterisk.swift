import CallState
import Crypto
@testable import Providers

/// ARI events posted to `/webhooks/asterisk`, signed here so every input
/// reaches the parser behind the signature check.
let secret = "fuzz-generic-secret"
let webhooks = Webhooks(secrets: ProviderSecrets(genericSecret: secret))
let now: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAsterisk(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let header = SignatureHeader.sign(secret: secret, timestamp: now / 1000, body: body)
    let request = WebhookRequest(path: "/webhooks/asterisk", headers: ["content-type": "application/json",
                                                                        "x-switchboard-signature": header], body: body)
    _ = try? webhooks.handle(.asterisk, request, now: now)
    return 0
}
