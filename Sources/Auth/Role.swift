/// What a token lets its bearer do (PROTOCOL.md §5).
public enum Role: String, Sendable, CaseIterable {
    /// Subscribes to its session and reports updates into it.
    case client
    /// Subscribes to its session, read-only.
    case viewer
    /// `/ws/dashboard` plus every session, read-only.
    case dashboard
    /// Everything, including the admin API.
    case admin

    /// Whether a token with this role and `sid` claim may subscribe to
    /// `/ws/calls/{session}`.
    ///
    /// Admin and dashboard read any session. Client and viewer read only the
    /// session their `sid` names, or any with `sid == "*"`; no `sid` grants
    /// nothing, so a token minted without one cannot wander.
    public func canRead(session: String, claims sid: String?) -> Bool {
        switch self {
        case .admin, .dashboard:
            return true
        case .client, .viewer:
            guard let sid, !sid.isEmpty else { return false }
            return sid == "*" || sid == session
        }
    }

    /// May send updates (`report` messages, `POST …/sync`): client and admin.
    public var canReport: Bool {
        self == .client || self == .admin
    }

    /// May open `/ws/dashboard` and `GET /api/calls`: dashboard and admin.
    public var canWatchDashboard: Bool {
        self == .dashboard || self == .admin
    }

    /// May use the admin API (`POST /api/calls/initiate`, `…/events`).
    public var isAdmin: Bool {
        self == .admin
    }
}
