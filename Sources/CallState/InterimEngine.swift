// INTERIM: field-wise newest-timestamp-wins stand-in with the engine's public
// API; replaced by the `engine` branch on merge.

public struct MergeConfig: Sendable {
    public var maxFutureSkewMs: Int64 = 5000
    public var conflictWindowMs: Int64 = 1000
    public var pendingWindowMs: Int64 = 3000
    public var timelineEntries = 500
    public init() {}
}

public struct IgnoredUpdate: Hashable, Sendable {
    public var field: String
    public var reason: String
    public init(field: String, reason: String) { self.field = field; self.reason = reason }
}

public struct Conflict: Hashable, Sendable {
    public var json: JSONValue
}

public struct ApplyOutcome: Sendable {
    public var duplicate = false
    public var applied: [Field] = []
    public var ignored: [IgnoredUpdate] = []
    public var conflicts: [Conflict] = []
    public var changed: [String] = []
    public var stateChanged = false
    public var qualityChanged = false
    public var version: Int64 = 0
}

public struct CallDocument: Hashable, Sendable {
    public var json: JSONValue
    public var callState: CallStateValue?
}

public struct QualityState: Hashable, Sendable {
    public var json: JSONValue = .null
}

public struct CallSession: Sendable {
    public let sessionId: String
    public internal(set) var epoch: String
    public internal(set) var version: Int64 = 0
    var winners: [Field: Update] = [:]
    var seen: Set<String> = []
    var lastSync: Int64?

    public init(sessionId: String, epoch: String, config: MergeConfig = MergeConfig()) {
        self.sessionId = sessionId
        self.epoch = epoch
    }

    public mutating func apply(_ input: Input, now: Int64) -> ApplyOutcome {
        var out = ApplyOutcome()
        if let id = input.eventId {
            if seen.contains(input.source + "\u{0}" + id) { out.duplicate = true; out.version = version; return out }
            seen.insert(input.source + "\u{0}" + id)
        }
        for u in input.updates {
            if let w = winners[u.field], w.ts > u.ts { out.ignored.append(IgnoredUpdate(field: u.field.name, reason: "stale")); continue }
            if winners[u.field]?.value == u.value { continue }
            winners[u.field] = u
            out.applied.append(u.field)
            out.changed.append(u.field.name)
        }
        if !out.applied.isEmpty { version += 1; out.stateChanged = true; lastSync = now }
        out.version = version
        return out
    }

    public var document: CallDocument {
        var o: [String: JSONValue] = ["sessionId": .string(sessionId), "version": .int(version)]
        var meta: [String: JSONValue] = [:]
        for (f, u) in winners {
            if case .metadata(let k) = f { meta[k] = u.value } else { o[f.name] = u.value }
        }
        o["metadata"] = .object(meta)
        o["lastSync"] = lastSync.map { .int($0) } ?? .null
        let state = winners[.callState]?.value.stringValue.flatMap(CallStateValue.init(rawValue:))
        return CallDocument(json: .object(o), callState: state)
    }

    public var quality: QualityState { QualityState() }
    public func nextDeadline() -> Int64? { nil }
    public mutating func tick(now: Int64) -> ApplyOutcome? { nil }
}

public enum ClientEvent {
    public static func callState(for event: String) -> CallStateValue? {
        switch event {
        case "accept", "open", "reconnected", "unhold": return .connected
        case "hold": return .onHold
        case "disconnected", "closed": return .ended
        case "reject": return .declined
        case "cancel": return .canceled
        case "error": return .failed
        default: return CallStateValue(rawValue: event)
        }
    }
}

public struct ReplayLog<Element: Sendable>: Sendable {
    var items: [(Int64, Element)] = []
    let capacity: Int
    public init(capacity: Int) { self.capacity = capacity }
    public mutating func append(version: Int64, element: Element) {
        items.append((version, element))
        if items.count > capacity { items.removeFirst() }
    }
    public func since(_ version: Int64) -> [Element]? {
        guard let newest = items.last?.0 else { return nil }
        if version == newest { return [] }
        guard let oldest = items.first?.0, version >= oldest - 1, version < newest else { return nil }
        return items.filter { $0.0 > version }.map { $0.1 }
    }
}
