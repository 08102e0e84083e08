import Auth
import CallState

/// Who is watching one session, counted per `sub` so a user with two tabs
/// joins once and leaves when the last tab goes (§3.2 presence).
struct Presence {
    struct Watcher {
        let role: Role
        let since: Int64
        var connections: Int
    }

    private(set) var watchers: [String: Watcher] = [:]

    /// Counts a connection; returns the `joined` entry when this is the user's first.
    mutating func join(_ identity: ClientIdentity, at now: Int64) -> JSONValue? {
        if var existing = watchers[identity.sub] {
            existing.connections += 1
            watchers[identity.sub] = existing
            return nil
        }
        watchers[identity.sub] = Watcher(role: identity.role, since: now, connections: 1)
        return Presence.entry(identity.sub, identity.role, now)
    }

    /// Uncounts a connection; returns the `left` entry when it was the user's last.
    mutating func leave(_ identity: ClientIdentity, at now: Int64) -> JSONValue? {
        guard var existing = watchers[identity.sub] else { return nil }
        existing.connections -= 1
        if existing.connections > 0 {
            watchers[identity.sub] = existing
            return nil
        }
        watchers[identity.sub] = nil
        return Presence.entry(identity.sub, existing.role, now)
    }

    /// `[{sub, role, at}]`, ordered by sub.
    var json: JSONValue {
        .array(watchers.keys.sorted().map { Presence.entry($0, watchers[$0]!.role, watchers[$0]!.since) })
    }

    static func entry(_ sub: String, _ role: Role, _ at: Int64) -> JSONValue {
        .object(["sub": .string(sub), "role": .string(role.rawValue), "at": .int(at)])
    }
}
