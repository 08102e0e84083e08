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
    /// Watchers connected to other nodes of a cluster (`Hub+Cluster.swift`),
    /// as their nodes last reported them; a user counts once across both.
    private(set) var remote: [String: Watcher] = [:]

    /// Counts a connection; returns the `joined` entry when this is the user's first.
    mutating func join(_ identity: ClientIdentity, at now: Int64) -> JSONValue? {
        if var existing = watchers[identity.sub] {
            existing.connections += 1
            watchers[identity.sub] = existing
            return nil
        }
        watchers[identity.sub] = Watcher(role: identity.role, since: now, connections: 1)
        if remote[identity.sub] != nil { return nil }
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
        if remote[identity.sub] != nil { return nil }
        return Presence.entry(identity.sub, existing.role, now)
    }

    /// Replaces the other nodes' watchers; returns who joined or left the
    /// session as a whole (users watching here too neither join nor leave).
    mutating func setRemote(_ table: [String: Watcher], at now: Int64) -> (joined: [JSONValue], left: [JSONValue]) {
        var joined: [JSONValue] = []
        var left: [JSONValue] = []
        for sub in table.keys.sorted() where remote[sub] == nil && watchers[sub] == nil {
            joined.append(Presence.entry(sub, table[sub]!.role, table[sub]!.since))
        }
        for sub in remote.keys.sorted() where table[sub] == nil && watchers[sub] == nil {
            left.append(Presence.entry(sub, remote[sub]!.role, now))
        }
        remote = table
        return (joined, left)
    }

    /// `[{sub, role, at}]`, ordered by sub.
    var json: JSONValue {
        guard !remote.isEmpty else {
            return .array(watchers.keys.sorted().map { Presence.entry($0, watchers[$0]!.role, watchers[$0]!.since) })
        }
        // Every node shows the same list: a user's earliest join anywhere.
        let everyone = watchers.merging(remote) { here, there in here.since <= there.since ? here : there }
        return .array(everyone.keys.sorted().map { Presence.entry($0, everyone[$0]!.role, everyone[$0]!.since) })
    }

    static func entry(_ sub: String, _ role: Role, _ at: Int64) -> JSONValue {
        .object(["sub": .string(sub), "role": .string(role.rawValue), "at": .int(at)])
    }
}
