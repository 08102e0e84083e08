import CallState
import JSONCodec

extension ConfigLoader {
    /// The `push.*` keys (PROTOCOL.md §10); appended to `keys`.
    static let pushKeys: [Key] = [
        optionalString("push.apns.keyId", \.push.apnsKeyId),
        optionalString("push.apns.teamId", \.push.apnsTeamId),
        secret("push.apns.privateKey", \.push.apnsPrivateKey),
        optionalString("push.apns.topic", \.push.apnsTopic),
        url("push.apns.url", \.push.apnsURL),
        optionalString("push.apns.caFile", \.push.apnsCAFile),
        serviceAccount("push.fcm.serviceAccount"),
        url("push.fcm.url", \.push.fcmURL),
        optionalString("push.fcm.caFile", \.push.fcmCAFile),
        url("push.expo.url", \.push.expoURL),
        secret("push.expo.accessToken", \.push.expoAccessToken),
        optionalString("push.expo.caFile", \.push.expoCAFile),
        int("push.tokenTtlSec", \.push.tokenTtlSec, 10...86_400),
        int("push.ringTimeoutSec", \.push.ringTimeoutSec, 1...3600),
        int("push.timeoutMs", \.push.timeoutMs, 100...600_000),
    ]

    static func url(_ path: String, _ kp: WritableKeyPath<HubConfig, String> & Sendable) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            let value = try text(path, raw)
            guard value.hasPrefix("http://") || value.hasPrefix("https://") else {
                throw ConfigError(key: path, reason: "must be an http:// or https:// URL")
            }
            config[keyPath: kp] = value.hasSuffix("/") ? String(value.dropLast()) : value
        }
    }

    /// The service-account JSON: an object in the file, its text, or `@file`.
    /// Checked here for the members the hub uses, so a wrong file stops the
    /// start rather than the first push.
    static func serviceAccount(_ path: String) -> Key {
        let readText = secret(path, \.push.fcmServiceAccount)
        return Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            if case .json(let value) = raw, case .object = value {
                config.push.fcmServiceAccount = String(decoding: JSONCodec.encode(value), as: UTF8.self)
            } else {
                try readText.apply(&config, raw)
            }
            guard let text = config.push.fcmServiceAccount else { return }
            guard case .object(let members)? = try? JSONCodec.parse(Array(text.utf8)) else {
                throw ConfigError(key: path, reason: "not a service-account JSON object")
            }
            for member in ["client_email", "private_key", "project_id", "token_uri"] where members[member]?.stringValue == nil {
                throw ConfigError(key: path, reason: "the service account has no \(member)")
            }
        }
    }
}
