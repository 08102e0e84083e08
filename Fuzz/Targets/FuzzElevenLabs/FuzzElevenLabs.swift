import CallState
import Crypto
@testable import Providers

/// ElevenLabs post-call webhooks, signed here, through both readers: the
/// buffered one (`Webhooks.handle`) and the streamed one
/// (`ElevenLabsAudioStream`, fed in chunks whose size the input's first byte
/// picks).
let secret = "fuzz-elevenlabs-secret"
let secrets = ProviderSecrets(elevenlabsSecret: secret)
let webhooks = Webhooks(secrets: secrets)
let now: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzElevenLabs(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let headers = ["content-type": "application/json",
                   "elevenlabs-signature": SignatureHeader.sign(secret: secret, timestamp: now / 1000, body: body, scheme: "v0")]
    let buffered = try? webhooks.handle(.elevenlabs, WebhookRequest(path: "/webhooks/elevenlabs", headers: headers, body: body),
                                        now: now)
    _ = buffered
    if let stream = try? ElevenLabsAudioStream(secrets: secrets, headers: headers, now: now) {
        let chunk = max(1, Int(body.first ?? 1))
        body.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let end = min(raw.count, offset + chunk)
                stream.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
            }
        }
        _ = try? stream.finish(query: [:], now: now)
    }
    return 0
}
