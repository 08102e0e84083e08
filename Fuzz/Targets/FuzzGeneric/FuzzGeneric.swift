import CallState
import Crypto
@testable import Providers

/// `POST /webhooks/generic/{id}` bodies, signed here (v1 and v2 alike) so
/// every input reaches the parser behind the signature check.
let secret = "fuzz-generic-secret"
let webhooks = Webhooks(secrets: ProviderSecrets(genericSecret: secret))
let now: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGeneric(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let t = now / 1000
    let path = "/webhooks/generic/fuzz-session"
    let header = body.first.map { $0 & 1 == 0 } ?? true
        ? SignatureHeader.sign(secret: secret, timestamp: t, body: body)
        : SignatureHeader.signV2(secret: secret, timestamp: t, target: path, body: body)
    let request = WebhookRequest(path: path, headers: ["content-type": "application/json", "x-switchboard-signature": header],
                                 body: body)
    if let result = try? webhooks.handle(.generic(sessionId: "fuzz-session"), request, now: now) {
        precondition(result.binding != nil, "a verified generic request carries its signature binding")
        for event in result.events { precondition(event.sessionId == "fuzz-session") }
    }
    return 0
}
