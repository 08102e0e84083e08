import Auth
import Testing

@Suite struct RoleRules {
    struct Read: Sendable, CustomTestStringConvertible {
        let role: Role
        let session: String
        let sid: String?
        let allowed: Bool
        var testDescription: String { "\(role) sid=\(sid ?? "nil") → \(session): \(allowed)" }
    }

    static let reads: [Read] = [
        Read(role: .client, session: "s1", sid: "s1", allowed: true),
        Read(role: .client, session: "s1", sid: "s2", allowed: false),
        Read(role: .client, session: "s1", sid: "*", allowed: true),
        Read(role: .client, session: "s1", sid: nil, allowed: false),
        Read(role: .client, session: "s1", sid: "", allowed: false),
        Read(role: .viewer, session: "s1", sid: "s1", allowed: true),
        Read(role: .viewer, session: "s1", sid: "S1", allowed: false),
        Read(role: .viewer, session: "s1", sid: "*", allowed: true),
        Read(role: .viewer, session: "s1", sid: nil, allowed: false),
        Read(role: .dashboard, session: "s1", sid: nil, allowed: true),
        Read(role: .dashboard, session: "s1", sid: "s2", allowed: true),
        Read(role: .admin, session: "s1", sid: nil, allowed: true),
        Read(role: .admin, session: "s1", sid: "s2", allowed: true),
    ]

    @Test(arguments: reads)
    func canReadFollowsRoleAndSid(_ row: Read) {
        #expect(row.role.canRead(session: row.session, claims: row.sid) == row.allowed)
    }

    @Test func capabilitiesPerRole() {
        #expect(Role.allCases.filter(\.canReport) == [.client, .admin])
        #expect(Role.allCases.filter(\.canWatchDashboard) == [.dashboard, .admin])
        #expect(Role.allCases.filter(\.isAdmin) == [.admin])
    }
}

@Suite struct AuthErrorMapping {
    @Test func statusAndCloseCodePerError() {
        #expect((AuthError.missing.httpStatus, AuthError.missing.closeCode) == (401, 4001))
        #expect((AuthError.invalid("x").httpStatus, AuthError.invalid("x").closeCode) == (401, 4001))
        #expect((AuthError.expired.httpStatus, AuthError.expired.closeCode) == (401, 4004))
        #expect((AuthError.forbidden("x").httpStatus, AuthError.forbidden("x").closeCode) == (403, 4003))
        #expect([AuthError.missing, .invalid("x"), .expired, .forbidden("x")].map(\.code)
            == ["missing_token", "invalid_token", "expired_token", "forbidden"])
    }
}
