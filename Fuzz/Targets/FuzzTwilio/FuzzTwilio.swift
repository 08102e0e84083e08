import CallState
import Crypto
@testable import Providers

/// Twilio status / recording / voice callbacks (form bodies), signed here
/// over the public URL and the parameters as the hub decodes them, so every
/// input reaches the parser. The first byte picks the callback and whether
/// a `?session=` query is added.
let token = "fuzz-twilio-token"
let publicUrl = "https://hub.example.com"
let webhooks = Webhooks(secrets: ProviderSecrets(twilioAuthToken: token, publicUrl: publicUrl))
let now: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTwilio(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let selector = body.first ?? 0
    let route: WebhookRoute = [.twilioStatus, .twilioRecording, .twilioVoice][Int(selector % 3)]
    let rawQuery: String? = selector & 4 == 0 ? nil : "session=fuzz-session"
    let url = Twilio.signedURL(publicUrl: publicUrl, path: route.path, rawQuery: rawQuery)
    let params = Form.decode(body).map { ($0.name, $0.value) }
    let headers = ["content-type": "application/x-www-form-urlencoded",
                   "x-twilio-signature": Twilio.signature(authToken: token, url: url, params: params)]
    let request = WebhookRequest(path: route.path, query: rawQuery == nil ? [:] : ["session": "fuzz-session"],
                                 rawQuery: rawQuery, headers: headers, body: body)
    _ = try? webhooks.handle(route, request, now: now)
    return 0
}
