import Auth
import CallState
import Crypto
import JSONCodec
import Store

/// The wire formats of the three push services (PROTOCOL.md §10): building
/// each request and reading each answer. Pure functions, no I/O; the
/// `PushService` sends what these build through the webhook client's thread.
enum PushRequests {
    /// What one answer means for the device.
    enum Verdict: Equatable {
        /// Accepted by the service.
        case sent
        /// The token is dead: the device is deleted.
        case unregistered
        /// Anything else (kept for the next call).
        case failed(String)

        var outcome: String {
            switch self {
            case .sent: return "sent"
            case .unregistered: return "unregistered"
            case .failed: return "failed"
            }
        }
    }

    // MARK: APNs

    /// The provider token: ES256, `kid` = key id, `iss` = team id, `iat`.
    static func apnsJWT(keyId: String, teamId: String, key: Crypto.PrivateKey, nowSec: Int64) -> String? {
        // The key is checked to be P-256 at start (`PushService`): `alg` is ES256.
        TokenMinter.sign(header: ["kid": .string(keyId)], payload: ["iss": .string(teamId), "iat": .int(nowSec)], privateKey: key)
    }

    /// `POST /3/device/<token>` with the VoIP headers; the body is the data
    /// itself (PushKit hands the whole dictionary to the app).
    static func apns(baseURL: String, deviceToken: String, topic: String, jwt: String, data: JSONValue) -> (url: String, headers: [String], body: [UInt8]) {
        let headers = [
            "authorization: bearer \(jwt)",
            "apns-topic: \(topic)",
            "apns-push-type: voip",
            "apns-priority: 10",
            // A ring is worth nothing later: deliver now or never.
            "apns-expiration: 0",
            "content-type: application/json",
        ]
        return (baseURL + "/3/device/" + percentEncoded(deviceToken), headers, JSONCodec.encode(data))
    }

    /// 200 sent; 410, or a `reason` of `Unregistered`, unregistered.
    static func apnsVerdict(status: Int, body: [UInt8]) -> Verdict {
        if status == 200 { return .sent }
        let reason = (try? JSONCodec.parse(body))?["reason"]?.stringValue
        if status == 410 || reason == "Unregistered" { return .unregistered }
        return .failed("HTTP \(status)" + (reason.map { " \($0)" } ?? ""))
    }

    // MARK: FCM

    /// The parts of a service-account JSON the hub uses.
    struct ServiceAccount {
        var clientEmail: String
        var privateKey: Crypto.PrivateKey
        var privateKeyId: String?
        var projectId: String
        var tokenURI: String

        init?(json text: String) {
            guard let value = try? JSONCodec.parse(Array(text.utf8)),
                  let email = value["client_email"]?.stringValue, let pem = value["private_key"]?.stringValue,
                  let project = value["project_id"]?.stringValue, let uri = value["token_uri"]?.stringValue,
                  let key = try? Crypto.PrivateKey(pem: pem), key.scheme == .rsaPKCS1SHA256 else { return nil }
            clientEmail = email
            privateKey = key
            privateKeyId = value["private_key_id"]?.stringValue
            projectId = project
            tokenURI = uri
        }
    }

    static let fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

    /// The OAuth 2.0 JWT-bearer grant (RFC 7523): an RS256 assertion signed
    /// with the service account's key, POSTed form-encoded to its `token_uri`.
    static func fcmTokenRequest(_ account: ServiceAccount, nowSec: Int64) -> (url: String, headers: [String], body: [UInt8])? {
        // The key is checked to be RSA when the account is read: `alg` is RS256.
        var header: [String: JSONValue] = ["typ": "JWT"]
        if let kid = account.privateKeyId { header["kid"] = .string(kid) }
        let claims: JSONValue = [
            "iss": .string(account.clientEmail), "scope": .string(fcmScope), "aud": .string(account.tokenURI),
            "iat": .int(nowSec), "exp": .int(nowSec + 3600),
        ]
        guard let assertion = TokenMinter.sign(header: header, payload: claims, privateKey: account.privateKey) else { return nil }
        let form = "grant_type=" + percentEncoded("urn:ietf:params:oauth:grant-type:jwt-bearer")
            + "&assertion=" + percentEncoded(assertion)
        return (account.tokenURI, ["content-type: application/x-www-form-urlencoded", "accept: application/json"], Array(form.utf8))
    }

    /// `(access_token, expires_in seconds)` from the token endpoint's answer.
    static func fcmAccessToken(status: Int, body: [UInt8]) -> (token: String, expiresInSec: Int64)? {
        guard status == 200, let value = try? JSONCodec.parse(body), let token = value["access_token"]?.stringValue else {
            return nil
        }
        return (token, value["expires_in"]?.intValue ?? 3600)
    }

    /// `POST {url}/v1/projects/{project}/messages:send`: a data message
    /// (every value a string, as FCM requires), high priority on Android.
    static func fcm(baseURL: String, projectId: String, accessToken: String, deviceToken: String,
                    data: [String: String]) -> (url: String, headers: [String], body: [UInt8]) {
        let message: JSONValue = ["message": [
            "token": .string(deviceToken),
            "data": .object(data.mapValues { .string($0) }),
            "android": ["priority": "high"],
        ]]
        return (baseURL + "/v1/projects/" + percentEncoded(projectId) + "/messages:send",
                ["authorization: Bearer \(accessToken)", "content-type: application/json"], JSONCodec.encode(message))
    }

    /// 200 sent; an `errorCode` of `UNREGISTERED` in the error's details unregistered.
    static func fcmVerdict(status: Int, body: [UInt8]) -> Verdict {
        if status == 200 { return .sent }
        let error = (try? JSONCodec.parse(body))?["error"]
        let codes = error?["details"]?.pushArray?.compactMap { $0["errorCode"]?.stringValue } ?? []
        if codes.contains("UNREGISTERED") { return .unregistered }
        return .failed("HTTP \(status)" + (error?["status"]?.stringValue.map { " \($0)" } ?? ""))
    }

    // MARK: Expo

    /// `POST push.expo.url` with one message.
    static func expo(url: String, accessToken: String?, deviceToken: String, data: JSONValue) -> (url: String, headers: [String], body: [UInt8]) {
        var headers = ["content-type: application/json", "accept: application/json"]
        if let accessToken { headers.append("authorization: Bearer \(accessToken)") }
        let messages: JSONValue = .array([["to": .string(deviceToken), "data": data, "priority": "high"]])
        return (url, headers, JSONCodec.encode(messages))
    }

    /// The ticket: `status: ok` sent; `details.error: DeviceNotRegistered` unregistered.
    static func expoVerdict(status: Int, body: [UInt8]) -> Verdict {
        guard status == 200 else { return .failed("HTTP \(status)") }
        let parsed = try? JSONCodec.parse(body)
        let ticket = parsed?["data"]?.pushArray?.first ?? parsed?["data"]
        if ticket?["status"]?.stringValue == "ok" { return .sent }
        if ticket?["details"]?["error"]?.stringValue == "DeviceNotRegistered" { return .unregistered }
        return .failed(ticket?["message"]?.stringValue ?? "no ticket in the answer")
    }

    // MARK: -

    /// RFC 3986 unreserved characters kept, everything else `%XX`.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

extension JSONValue {
    /// The elements of an array (nil for anything else).
    var pushArray: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
