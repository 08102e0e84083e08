import CallState
import Crypto
@testable import Providers

/// Telnyx call-control webhooks, signed here with a fixed Ed25519 key so
/// every input reaches the parser behind the signature check.
let privateKey = [UInt8](repeating: 7, count: 32)
let publicKey = Crypto.ed25519PublicKey(fromPrivate: privateKey)!
let webhooks = Webhooks(secrets: ProviderSecrets(telnyxPublicKey: Crypto.base64Encode(publicKey)))
let now: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTelnyx(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let timestamp = String(now / 1000)
    let signature = Crypto.ed25519Sign(privateKey: privateKey, message: Array(timestamp.utf8) + [UInt8(ascii: "|")] + body)!
    let headers = ["content-type": "application/json", "telnyx-timestamp": timestamp,
                   "telnyx-signature-ed25519": Crypto.base64Encode(signature)]
    _ = try? webhooks.handle(.telnyx, WebhookRequest(path: "/webhooks/telnyx", headers: headers, body: body), now: now)
    return 0
}
