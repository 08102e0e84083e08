import CallState
import JSONCodec

extension ConfigLoader {
    /// The event types an endpoint may subscribe to (PROTOCOL.md §11), and `*`.
    static let webhookEventTypes: Set<String> = ["call.state", "call.ended", "call.conflict", "quality.warning",
                                                  "push.needed", "*"]

    /// `webhooks.endpoints`: a JSON array of `{url, secret, events}` (in the
    /// file, or as JSON text in `SWITCHBOARD_WEBHOOKS_ENDPOINTS`). A secret
    /// may be `@/path/to/file`. Errors name the item: `webhooks.endpoints[1].url`.
    static func webhookEndpoints(_ path: String) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            let value: JSONValue
            switch raw {
            case .json(let v): value = v
            case .text(let s):
                do { value = try JSONCodec.parse(Array(s.utf8)) } catch {
                    throw ConfigError(key: path, reason: "expected a JSON array of {url, secret, events}")
                }
            }
            guard case .array(let items) = value else {
                throw ConfigError(key: path, reason: "expected an array of {url, secret, events}")
            }
            var endpoints: [HubConfig.WebhookEndpoint] = []
            for (index, item) in items.enumerated() {
                let at = "\(path)[\(index)]"
                guard case .object(let members) = item else { throw ConfigError(key: at, reason: "expected an object") }
                for name in members.keys where !["url", "secret", "events"].contains(name) {
                    throw ConfigError(key: "\(at).\(name)", reason: "unknown key")
                }
                guard let url = members["url"]?.stringValue, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    throw ConfigError(key: "\(at).url", reason: "must be an http:// or https:// URL")
                }
                guard endpoints.allSatisfy({ $0.url != url }) else {
                    throw ConfigError(key: "\(at).url", reason: "\(url) is listed twice")
                }
                guard var secret = members["secret"]?.stringValue, !secret.isEmpty else {
                    throw ConfigError(key: "\(at).secret", reason: "a non-empty string (or @file) is required")
                }
                if secret.hasPrefix("@") {
                    let file = String(secret.dropFirst())
                    guard let bytes = readFile(file) else {
                        throw ConfigError(key: "\(at).secret", reason: "cannot read secret file \(file)")
                    }
                    secret = String(decoding: bytes, as: UTF8.self)
                    while secret.last == "\n" || secret.last == "\r" { secret.removeLast() }
                    guard !secret.isEmpty else { throw ConfigError(key: "\(at).secret", reason: "secret file \(file) is empty") }
                }
                guard case .array(let list) = members["events"] ?? .null, !list.isEmpty else {
                    throw ConfigError(key: "\(at).events", reason: "a non-empty array of event types is required")
                }
                var events: [String] = []
                for event in list {
                    guard let name = event.stringValue, webhookEventTypes.contains(name) else {
                        throw ConfigError(key: "\(at).events", reason: "\(event) is not one of \(webhookEventTypes.sorted().joined(separator: ", "))")
                    }
                    events.append(name)
                }
                endpoints.append(HubConfig.WebhookEndpoint(url: url, secret: secret, events: events))
            }
            config.webhooks.endpoints = endpoints
        }
    }
}
