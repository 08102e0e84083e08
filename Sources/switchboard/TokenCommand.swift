import ArgumentParser
import Auth
import Hub
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// `switchboard token --sub S --sid X --role R --ttl N`: mints an HS256 token
/// with the configured (or generated) secret.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Mint a JWT for a client, viewer, dashboard or admin.")

    @Option(help: "Subject: the user or device.") var sub: String
    @Option(help: "Session it grants, or *; omit for dashboard/admin.") var sid: String?
    @Option(help: "client, viewer, dashboard or admin.") var role: String = "client"
    @Option(help: "Lifetime in seconds (at most auth.maxTtlSec).") var ttl: Int = 3600
    @Option(help: "Config file (default Config/switchboard.json when present).") var config: String?
    @Option(help: "Data directory holding a generated secret.") var dataDir: String?

    /// Checks made while parsing, so a mistake is answered with this
    /// command's usage (`switchboard token --sub …`): a ValidationError
    /// thrown from `run()` is reported by the root, with the top-level one.
    func validate() throws {
        guard let role = Role(rawValue: role) else { throw ValidationError("role must be client, viewer, dashboard or admin") }
        // A client or viewer token without a session grants nothing: refuse to mint it silently.
        if (role == .client || role == .viewer) && sid == nil {
            throw ValidationError("--role \(role.rawValue) needs --sid SESSION (or --sid '*' for every session)")
        }
        let maxTtl = try settings().auth.maxTtlSec
        guard ttl > 0, ttl <= maxTtl else { throw ValidationError("ttl must be 1...\(maxTtl) (auth.maxTtlSec)") }
    }

    func run() throws {
        let settings = try settings()
        print(Self.mint(config: settings, sub: sub, sid: sid, role: Role(rawValue: role) ?? .client, ttl: ttl))
    }

    /// The configuration with the secret resolved (generated on first use).
    private func settings() throws -> HubConfig {
        var overrides: [String: String] = [:]
        if let dataDir { overrides["dataDir"] = dataDir }
        var settings = try ConfigLoader.load(fileBytes: Serve.configBytes(config), environment: Serve.environment(),
                                             overrides: overrides)
        _ = try SecretFile.resolve(&settings)
        return settings
    }

    static func mint(config: HubConfig, sub: String, sid: String?, role: Role, ttl: Int) -> String {
        let now = Int64(time(nil))
        let claims = Claims(sub: sub, sid: sid, role: role, exp: now + Int64(ttl), iat: now, aud: config.auth.audience)
        return TokenMinter.hs256(claims, secret: Array((config.auth.hs256Secret ?? "").utf8))
    }
}
