import Auth
import CallState
import JSONCodec
import Crypto
import Store

/// The device registry and the push requests in flight (PROTOCOL.md §10).
///
/// Confined to the reactor thread like `Hub`; the HTTP itself runs on a
/// `WebhookClient` thread of its own, so a slow push service never delays a
/// frame. Credentials are parsed once at start (`init` throws naming the key).
final class PushService {
    let settings: HubConfig.Push
    /// sub → deviceId → device. API writes change it after their commit; a
    /// dead token's device goes at once (its removal is committed after).
    private(set) var devices: [String: [String: Device]] = [:]
    let client: WebhookClient
    private let apnsKey: Crypto.PrivateKey?
    private let fcmAccount: PushRequests.ServiceAccount?
    /// APNs refuses a provider token refreshed more than once per 20 min and
    /// one older than an hour: one is minted and reused for 40 min.
    private var apnsJWT: (token: String, mintedAtSec: Int64)?
    /// The FCM OAuth access token and when it stops being used (ms).
    private var fcmAccess: (token: String, expiresAt: Int64)?
    /// True while a token request is out; sends wait in `fcmWaiting`.
    private var fcmTokenInFlight = false
    private var fcmWaiting: [Attempt] = []
    private var nextToken: Int64 = 0
    private var inFlight: [Int64: Attempt] = [:]
    /// Sessions whose push phase is running, with its ring deadline (ms).
    var ringing: [String: Int64] = [:]
    /// Registry writes waiting for their commit, by journal token (from 1;
    /// token 0 is a removal nobody waits for).
    var pendingWrites: [Int: (write: DeviceWrite, respond: (Swift.Result<Void, StoreError>) -> Void)] = [:]
    var nextWriteToken = 0
    /// Removals of dead devices handed to the journal and not yet finished.
    var removalsInFlight = 0

    /// Whether any push request awaits its answer (the wake-up path skips
    /// the client's lock otherwise: it runs after every journal commit).
    var awaitingAnswers: Bool { !inFlight.isEmpty || fcmTokenInFlight }

    /// One push to one device through one service.
    struct Attempt {
        enum Service: String { case apns, fcm, expo }
        var service: Service
        var sessionId: String
        var device: DeviceKey
        var deviceToken: String
        /// The payload; FCM gets its members as strings (`strings(_:)`).
        var data: JSONValue
    }

    /// What a finished attempt reports to the hub.
    struct Result {
        var attempt: Attempt
        var verdict: PushRequests.Verdict
    }

    /// - Throws: `KeyError` naming the `push.*` key that cannot be used.
    init(settings: HubConfig.Push) throws(KeyError) {
        self.settings = settings
        let apnsParts = [settings.apnsKeyId, settings.apnsTeamId, settings.apnsPrivateKey, settings.apnsTopic]
        if apnsParts.contains(where: { $0 != nil }) {
            for (name, value) in zip(["keyId", "teamId", "privateKey", "topic"], apnsParts) where value == nil {
                throw KeyError(key: "push.apns.\(name)", message: "required when any push.apns key is set")
            }
            do { apnsKey = try Crypto.PrivateKey(pem: settings.apnsPrivateKey ?? "") } catch {
                throw KeyError(key: "push.apns.privateKey", message: "not a PEM private key: \(error)")
            }
            guard apnsKey?.scheme == .ecdsaP256SHA256 else {
                throw KeyError(key: "push.apns.privateKey", message: "APNs keys are EC P-256 (.p8)")
            }
        } else {
            apnsKey = nil
        }
        if let text = settings.fcmServiceAccount {
            guard let account = PushRequests.ServiceAccount(json: text) else {
                throw KeyError(key: "push.fcm.serviceAccount", message: "private_key is not an RSA PEM key")
            }
            fcmAccount = account
        } else {
            fcmAccount = nil
        }
        client = WebhookClient(caFile: nil)
    }

    // MARK: Registry

    /// The devices of `sub`, by deviceId.
    func devices(of sub: String) -> [Device] {
        (devices[sub] ?? [:]).values.sorted { $0.deviceId < $1.deviceId }
    }

    /// Applies a stored change to the in-memory registry.
    func apply(_ write: DeviceWrite) {
        for device in write.upserts { devices[device.sub, default: [:]][device.deviceId] = device }
        for gone in write.deletes {
            devices[gone.sub]?[gone.deviceId] = nil
            if devices[gone.sub]?.isEmpty == true { devices[gone.sub] = nil }
        }
    }

    func load(_ stored: [Device]) {
        devices = [:]
        apply(DeviceWrite(upserts: stored))
    }

    // MARK: Sending

    /// One push per device: through its VoIP token when it has one (CallKit
    /// needs PushKit), else FCM, else Expo, skipping services without
    /// credentials, so a phone is rung once however many tokens it holds.
    /// Returns the devices that could not be pushed at once (no configured
    /// service for any of their tokens); the rest are in flight.
    func push(sessionId: String, to devices: [Device], data: JSONValue, nowMs: Int64) -> [Result] {
        var skipped: [Result] = []
        for device in devices {
            let key = DeviceKey(sub: device.sub, deviceId: device.deviceId)
            let tokens: [(Attempt.Service, String?)] = [(.apns, device.voipPushToken), (.fcm, device.pushToken),
                                                        (.expo, device.expoPushToken)]
            let attempts = tokens.compactMap { service, token in
                token.map { Attempt(service: service, sessionId: sessionId, device: key, deviceToken: $0, data: data) }
            }
            guard let first = attempts.first else { continue }
            if !attempts.contains(where: { send($0, nowMs: nowMs) }) {
                skipped.append(Result(attempt: first, verdict: .failed("unconfigured")))
            }
        }
        return skipped
    }

    /// False when the service has no credentials.
    private func send(_ attempt: Attempt, nowMs: Int64) -> Bool {
        switch attempt.service {
        case .apns:
            guard let apnsKey, let keyId = settings.apnsKeyId, let teamId = settings.apnsTeamId,
                  let topic = settings.apnsTopic else { return false }
            let nowSec = nowMs / 1000
            if apnsJWT.map({ nowSec - $0.mintedAtSec >= 40 * 60 }) ?? true,
               let fresh = PushRequests.apnsJWT(keyId: keyId, teamId: teamId, key: apnsKey, nowSec: nowSec) {
                apnsJWT = (fresh, nowSec)
            }
            guard let jwt = apnsJWT?.token else { return false }
            let r = PushRequests.apns(baseURL: settings.apnsURL, deviceToken: attempt.deviceToken, topic: topic,
                                      jwt: jwt, data: attempt.data)
            start(attempt, r, caFile: settings.apnsCAFile, http2: true)
        case .fcm:
            guard let fcmAccount else { return false }
            if let access = fcmAccess, access.expiresAt > nowMs {
                let r = PushRequests.fcm(baseURL: settings.fcmURL, projectId: fcmAccount.projectId, accessToken: access.token,
                                         deviceToken: attempt.deviceToken, data: PushService.strings(attempt.data))
                start(attempt, r, caFile: settings.fcmCAFile, http2: false)
            } else {
                guard fcmTokenInFlight || requestFCMToken(fcmAccount, nowMs: nowMs) else { return false }
                fcmWaiting.append(attempt)
            }
        case .expo:
            let r = PushRequests.expo(url: settings.expoURL, accessToken: settings.expoAccessToken,
                                      deviceToken: attempt.deviceToken, data: attempt.data)
            start(attempt, r, caFile: settings.expoCAFile, http2: false)
        }
        return true
    }

    /// The client token of the OAuth token request; sends count up from 1.
    private static let tokenRequest: Int64 = -1

    /// Asks the service account's `token_uri` for an access token; false
    /// when the assertion cannot be signed (the waiting sends then fail).
    private func requestFCMToken(_ account: PushRequests.ServiceAccount, nowMs: Int64) -> Bool {
        guard let r = PushRequests.fcmTokenRequest(account, nowSec: nowMs / 1000) else { return false }
        fcmTokenInFlight = true
        client.send(WebhookClient.Request(token: PushService.tokenRequest, url: r.url, headers: r.headers, body: r.body,
                                          timeoutMs: settings.timeoutMs, caFile: settings.fcmCAFile, keepBodyBytes: 64 << 10))
        return true
    }

    private func start(_ attempt: Attempt, _ r: (url: String, headers: [String], body: [UInt8]), caFile: String?, http2: Bool) {
        nextToken += 1
        inFlight[nextToken] = attempt
        client.send(WebhookClient.Request(token: nextToken, url: r.url, headers: r.headers, body: r.body,
                                          timeoutMs: settings.timeoutMs, caFile: caFile, http2: http2, keepBodyBytes: 64 << 10))
    }

    /// Answers since the last call, read into verdicts; FCM sends waiting for
    /// an access token go out when it arrives (or fail with it).
    func takeResults(nowMs: Int64) -> [Result] {
        var results: [Result] = []
        for response in client.takeResponses() {
            if response.token == PushService.tokenRequest {
                fcmTokenInFlight = false
                let waiting = fcmWaiting
                fcmWaiting = []
                if let access = PushRequests.fcmAccessToken(status: response.status, body: response.body) {
                    // A minute early, so a token never expires in flight.
                    fcmAccess = (access.token, nowMs + max(access.expiresInSec - 60, 1) * 1000)
                    for attempt in waiting where !send(attempt, nowMs: nowMs) {
                        results.append(Result(attempt: attempt, verdict: .failed("unconfigured")))
                    }
                } else {
                    let why = response.error ?? "token endpoint answered HTTP \(response.status)"
                    results += waiting.map { Result(attempt: $0, verdict: .failed("oauth: " + why)) }
                }
                continue
            }
            guard let attempt = inFlight.removeValue(forKey: response.token) else { continue }
            guard response.error == nil else {
                results.append(Result(attempt: attempt, verdict: .failed(response.error ?? "transport error")))
                continue
            }
            let verdict: PushRequests.Verdict
            switch attempt.service {
            case .apns: verdict = PushRequests.apnsVerdict(status: response.status, body: response.body)
            case .fcm:
                verdict = PushRequests.fcmVerdict(status: response.status, body: response.body)
                // A refused bearer: the next send fetches a new one.
                if response.status == 401 { fcmAccess = nil }
            case .expo: verdict = PushRequests.expoVerdict(status: response.status, body: response.body)
            }
            results.append(Result(attempt: attempt, verdict: verdict))
        }
        return results
    }

    /// FCM data values must be strings: null becomes absent, others their text.
    static func strings(_ data: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in data.objectValue ?? [:] {
            switch value {
            case .null: continue
            case .string(let s): out[key] = s
            default: out[key] = String(decoding: JSONCodec.encode(value), as: UTF8.self)
            }
        }
        return out
    }
}

