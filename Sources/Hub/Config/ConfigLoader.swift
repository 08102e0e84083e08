import CallState
import JSONCodec
import Providers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A configuration problem, always naming the key at fault so an operator can
/// fix it without reading code.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The JSON path of the offending key (`limits.maxMessageBytes`), or the file.
    public let key: String
    public let reason: String
    public var description: String { "invalid config key \(key): \(reason)" }
}

/// Builds a `HubConfig` from the three layers of PROTOCOL.md §8: the JSON file,
/// then `SWITCHBOARD_*` environment variables, then command-line flags.
///
/// Every key is declared once in `ConfigLoader.keys`; the file, the
/// environment and the flags all go through the same parser, so a value is
/// validated identically wherever it comes from.
public enum ConfigLoader {
    /// Loads and validates. - Parameters:
    ///   - fileBytes: the JSON file's bytes, or nil to start from defaults.
    ///   - environment: the process environment (only `SWITCHBOARD_*` is read).
    ///   - overrides: flag values by JSON path (`server.port`), applied last.
    public static func load(fileBytes: [UInt8]?, environment: [String: String],
                            overrides: [String: String] = [:]) throws(ConfigError) -> HubConfig {
        var config = HubConfig()
        if let fileBytes {
            let root: JSONValue
            do { root = try JSONCodec.parse(fileBytes) } catch {
                throw ConfigError(key: "(file)", reason: "not valid JSON: \(error)")
            }
            guard case .object = root else { throw ConfigError(key: "(file)", reason: "top level must be an object") }
            var flat: [(String, JSONValue)] = []
            flatten(root, prefix: "", into: &flat)
            for (path, value) in flat {
                guard let key = keysByPath[path] else { throw ConfigError(key: path, reason: "unknown key") }
                try key.apply(&config, .json(value))
            }
        }
        // Sorted, so the first problem reported does not depend on hash order.
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("SWITCHBOARD_") {
            let suffix = String(name.dropFirst("SWITCHBOARD_".count))
            guard let key = keysByEnv[suffix] else {
                // A typo must not start a hub on defaults the operator did not choose.
                throw ConfigError(key: name, reason: "unknown environment variable; did you mean \(closestEnvName(to: suffix))?")
            }
            try key.apply(&config, .text(value))
        }
        for (path, value) in overrides {
            guard let key = keysByPath[path] else { throw ConfigError(key: path, reason: "unknown key") }
            try key.apply(&config, .text(value))
        }
        try validate(config)
        return config
    }

    /// Every key, with its environment variable name: the table the README documents.
    public static var documentedKeys: [(path: String, env: String)] {
        keys.map { ($0.path, "SWITCHBOARD_" + envName($0.path)) }
    }

    // MARK: - Key table

    enum Raw {
        case json(JSONValue)
        case text(String)
    }

    struct Key: Sendable {
        let path: String
        let apply: @Sendable (inout HubConfig, Raw) throws(ConfigError) -> Void
    }

    static let keys: [Key] = [
        string("server.host", \.server.host),
        int("server.port", \.server.port, 0...65535),
        string("server.publicUrl", \.server.publicUrl),
        list("server.trustedProxies", \.server.trustedProxies),
        secret("auth.hs256Secret", \.auth.hs256Secret),
        list("auth.publicKeys", \.auth.publicKeys),
        string("auth.audience", \.auth.audience),
        int("auth.maxTtlSec", \.auth.maxTtlSec, 1...86_400 * 30),
        list("security.allowedOrigins", \.security.allowedOrigins),
        int("limits.maxMetadataKeys", \.limits.maxMetadataKeys, 1...100_000),
        int("limits.maxMetadataValueBytes", \.limits.maxMetadataValueBytes, 1...16 << 20),
        int("limits.maxDocumentBytes", \.limits.maxDocumentBytes, 1024...256 << 20),
        int("limits.httpWritesPerSecond", \.limits.httpWritesPerSecond, 1...1_000_000),
        int("limits.httpWriteBurst", \.limits.httpWriteBurst, 1...1_000_000),
        int("limits.maxRememberedSignatures", \.limits.maxRememberedSignatures, 1...10_000_000),
        int("limits.maxMessageBytes", \.limits.maxMessageBytes, 128...16 << 20),
        int("limits.maxBodyBytes", \.limits.maxBodyBytes, 1024...256 << 20),
        int("limits.maxAudioBodyBytes", \.limits.maxAudioBodyBytes, 1024...4 << 30),
        int("limits.sendQueueBytes", \.limits.sendQueueBytes, 1024...1 << 30),
        int("limits.maxConnectionsPerIp", \.limits.maxConnectionsPerIp, 1...1_000_000),
        int("limits.messagesPerSecond", \.limits.messagesPerSecond, 1...1_000_000),
        int("limits.maxErrorsPerMinute", \.limits.maxErrorsPerMinute, 1...1_000_000),
        int("limits.maxHeaderBytes", \.limits.maxHeaderBytes, 1024...60_000),
        int("limits.headerTimeoutMs", \.limits.headerTimeoutMs, 100...600_000),
        int("limits.bodyTimeoutMs", \.limits.bodyTimeoutMs, 100...3_600_000),
        int("limits.idleTimeoutMs", \.limits.idleTimeoutMs, 100...3_600_000),
        int("keepalive.pingSec", \.keepalive.pingSec, 1...3600),
        int("keepalive.timeoutSec", \.keepalive.timeoutSec, 2...7200),
        int("merge.maxFutureSkewMs", \.merge.maxFutureSkewMs, 0...86_400_000),
        int("merge.conflictWindowMs", \.merge.conflictWindowMs, 0...86_400_000),
        int("merge.pendingWindowMs", \.merge.pendingWindowMs, 0...86_400_000),
        int("quality.intervalMs", \.quality.intervalMs, 0...3_600_000),
        int("dashboard.intervalMs", \.dashboard.intervalMs, 0...3_600_000),
        int("retention.endedSec", \.retention.endedSec, 0...86_400 * 365),
        int("retention.timelineEntries", \.retention.timelineEntries, 1...1_000_000),
        int("retention.replayFrames", \.retention.replayFrames, 1...1_000_000),
        int("retention.staleSec", \.retention.staleSec, 0...86_400 * 365),
        string("store.kind", \.store.kind, allowed: ["sqlite", "memory", "redis"]),
        string("store.url", \.store.url),
        int("store.redisReplicas", \.store.redisReplicas, 0...64),
        optionalString("cluster.nodeId", \.cluster.nodeId),
        optionalString("store.path", \.store.path),
        secret("store.encryptionKey", \.store.encryptionKey),
        int("store.snapshotEvery", \.store.snapshotEvery, 1...1_000_000),
        int("store.checkpointIntervalMs", \.store.checkpointIntervalMs, 0...3_600_000),
        int("history.retentionDays", \.history.retentionDays, 1...36_500),
        int("history.qualityPoints", \.history.qualityPoints, 10...1_000_000),
        int("shutdown.drainSec", \.shutdown.drainSec, 0...3600),
        secret("providers.twilio.authToken", \.providers.twilioAuthToken),
        optionalString("providers.twilio.accountSid", \.providers.twilioAccountSid),
        optionalString("providers.twilio.apiKeySid", \.providers.twilioApiKeySid),
        secret("providers.twilio.apiKeySecret", \.providers.twilioApiKeySecret),
        optionalString("providers.twilio.twimlAppSid", \.providers.twilioTwimlAppSid),
        int("providers.twilio.tokenTtlSec", \.providers.twilioTokenTtlSec, 1...86_400),
        secret("providers.elevenlabs.secret", \.providers.elevenlabsSecret),
        int("providers.elevenlabs.summaryMaxChars", \.providers.elevenlabsSummaryMaxChars, 0...10_000),
        secret("providers.agora.secret", \.providers.agoraSecret),
        secret("providers.telnyx.publicKey", \.providers.telnyxPublicKey),
        secret("providers.generic.secret", \.providers.genericSecret),
        webhookEndpoints("webhooks.endpoints"),
        int("webhooks.maxAttempts", \.webhooks.maxAttempts, 1...1000),
        int("webhooks.maxAgeSec", \.webhooks.maxAgeSec, 1...86_400 * 30),
        int("webhooks.timeoutMs", \.webhooks.timeoutMs, 100...600_000),
        int("webhooks.concurrency", \.webhooks.concurrency, 1...1024),
        optionalString("webhooks.caFile", \.webhooks.caFile),
        int("webhooks.backoffMs", \.webhooks.backoffMs, 1...86_400_000),
        int("webhooks.maxBackoffMs", \.webhooks.maxBackoffMs, 1...86_400_000),
        string("dataDir", \.dataDir),
        string("publicDir", \.publicDir),
    ] + pushKeys

    static let keysByPath: [String: Key] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })

    /// Both spellings of a key's environment name are accepted: the JSON path
    /// upper-cased (`LIMITS_MAXMESSAGEBYTES`, as §8 says) and the camelCase
    /// words split (`LIMITS_MAX_MESSAGE_BYTES`, what people type).
    static let keysByEnv: [String: Key] = {
        var table: [String: Key] = [:]
        for key in keys {
            table[envName(key.path)] = key
            table[splitEnvName(key.path)] = key
        }
        return table
    }()

    /// The documented variable nearest to `suffix` (fewest single-character
    /// edits, ignoring `_`), for the error message.
    static func closestEnvName(to suffix: String) -> String {
        let target = Array(suffix.uppercased().filter { $0 != "_" })
        var best = (distance: Int.max, name: "")
        for key in keys {
            let candidate = Array(envName(key.path).filter { $0 != "_" })
            let d = editDistance(target, candidate)
            if d < best.distance { best = (d, "SWITCHBOARD_" + splitEnvName(key.path)) }
        }
        return best.name
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    static func envName(_ path: String) -> String {
        path.split(separator: ".").map { $0.uppercased() }.joined(separator: "_")
    }

    static func splitEnvName(_ path: String) -> String {
        path.split(separator: ".").map { part in
            var out = ""
            for ch in part {
                if ch.isUppercase, !out.isEmpty { out.append("_") }
                out.append(ch)
            }
            return out.uppercased()
        }.joined(separator: "_")
    }

    // MARK: - Key kinds

    static func int(_ path: String, _ kp: WritableKeyPath<HubConfig, Int> & Sendable,
                    _ range: ClosedRange<Int>) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            let value: Int?
            switch raw {
            case .json(let v): value = v.intValue.map { Int($0) }
            case .text(let s): value = Int(s.trimmingSpaces)
            }
            guard let value else { throw ConfigError(key: path, reason: "expected an integer") }
            guard range.contains(value) else {
                throw ConfigError(key: path, reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            config[keyPath: kp] = value
        }
    }

    static func string(_ path: String, _ kp: WritableKeyPath<HubConfig, String> & Sendable,
                       allowed: [String]? = nil) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            let value = try text(path, raw)
            if let allowed, !allowed.contains(value) {
                throw ConfigError(key: path, reason: "\"\(value)\" is not one of \(allowed.joined(separator: ", "))")
            }
            guard !value.isEmpty else { throw ConfigError(key: path, reason: "must not be empty") }
            config[keyPath: kp] = value
        }
    }

    static func optionalString(_ path: String, _ kp: WritableKeyPath<HubConfig, String?> & Sendable) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            if case .json(.null) = raw { config[keyPath: kp] = nil; return }
            let value = try text(path, raw)
            config[keyPath: kp] = value.isEmpty ? nil : value
        }
    }

    /// Secrets may be given inline or as `@/path/to/file` (trailing newline trimmed).
    static func secret(_ path: String, _ kp: WritableKeyPath<HubConfig, String?> & Sendable) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            if case .json(.null) = raw { config[keyPath: kp] = nil; return }
            var value = try text(path, raw)
            if value.hasPrefix("@") {
                let file = String(value.dropFirst())
                guard let bytes = readFile(file) else {
                    throw ConfigError(key: path, reason: "cannot read secret file \(file)")
                }
                value = String(decoding: bytes, as: UTF8.self)
                while value.last == "\n" || value.last == "\r" { value.removeLast() }
            }
            config[keyPath: kp] = value.isEmpty ? nil : value
        }
    }

    /// Lists: a JSON array of strings, or comma-separated text in env/flags.
    static func list(_ path: String, _ kp: WritableKeyPath<HubConfig, [String]> & Sendable) -> Key {
        Key(path: path) { (config: inout HubConfig, raw: Raw) throws(ConfigError) in
            switch raw {
            case .json(.array(let items)):
                var out: [String] = []
                for item in items {
                    guard let s = item.stringValue else { throw ConfigError(key: path, reason: "expected an array of strings") }
                    out.append(s)
                }
                config[keyPath: kp] = out
            case .json:
                throw ConfigError(key: path, reason: "expected an array of strings")
            case .text(let s):
                config[keyPath: kp] = s.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            }
        }
    }

    static func text(_ path: String, _ raw: Raw) throws(ConfigError) -> String {
        switch raw {
        case .json(.string(let s)): return s
        case .json: throw ConfigError(key: path, reason: "expected a string")
        case .text(let s): return s
        }
    }

    static func flatten(_ value: JSONValue, prefix: String, into out: inout [(String, JSONValue)]) {
        guard case .object(let members) = value else {
            out.append((prefix, value))
            return
        }
        for (k, v) in members.sorted(by: { $0.key < $1.key }) {
            let path = prefix.isEmpty ? k : prefix + "." + k
            // `providers.twilio` etc. are sections; any other object is a value.
            if case .object = v, keysByPath[path] == nil { flatten(v, prefix: path, into: &out) } else { out.append((path, v)) }
        }
    }

    static func validate(_ config: HubConfig) throws(ConfigError) {
        if config.keepalive.timeoutSec <= config.keepalive.pingSec {
            throw ConfigError(key: "keepalive.timeoutSec", reason: "must be greater than keepalive.pingSec")
        }
        let url = config.server.publicUrl
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ConfigError(key: "server.publicUrl", reason: "must start with http:// or https://")
        }
        if let problem = config.providerSecrets.validationErrors.first {
            let parts = problem.split(separator: ":", maxSplits: 1)
            throw ConfigError(key: String(parts[0]), reason: parts.count > 1 ? String(parts[1]).trimmingSpaces : problem)
        }
        if let problem = config.twilioAccessTokenProblem {
            throw ConfigError(key: problem.key, reason: problem.reason)
        }
        for cidr in config.server.trustedProxies where CIDR(cidr) == nil {
            throw ConfigError(key: "server.trustedProxies", reason: "\"\(cidr)\" is not a CIDR")
        }
    }

    /// Reads a whole file; nil when it does not exist or cannot be read.
    public static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out.append(contentsOf: buf[0..<n]) }
            if n < buf.count { break }
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
