import CallState
import Crypto
import Foundation
@testable import Providers

/// Fixtures shared with the other worktrees: /work/shared/fixtures.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        let path = directory.appendingPathComponent(name).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FixtureMissing(path: path)
        }
        var bytes = [UInt8](data)
        while bytes.last == 0x0A || bytes.last == 0x0D { bytes.removeLast() }
        return bytes
    }

    static func lines(_ name: String) throws -> [[UInt8]] {
        try bytes(name).split(separator: 0x0A).map { Array($0) }.filter { !$0.isEmpty }
    }

    struct FixtureMissing: Error { let path: String }
}

extension Input {
    /// The single value written to `field`, if exactly one update wrote it.
    func value(_ field: Field) -> JSONValue? {
        let matching = updates.filter { $0.field == field }
        return matching.count == 1 ? matching[0].value : nil
    }

    func state(_ expected: CallStateValue) -> Bool {
        value(.callState) == .string(expected.rawValue)
    }
}

/// 2026-11-20T23:10:05Z, near the Twilio and Asterisk fixtures.
let fixtureNow: Int64 = 1_795_216_205_000

func secrets(telnyxPublicKey: [UInt8]? = nil) -> ProviderSecrets {
    ProviderSecrets(twilioAuthToken: "twilio-test-token", elevenlabsSecret: "wsec_test",
                    agoraSecret: "agora-test-secret", telnyxPublicKey: telnyxPublicKey.map(Crypto.base64Encode),
                    genericSecret: "generic-test-secret", publicUrl: "https://hub.example.com")
}

func status(of body: () throws(WebhookError) -> WebhookResult) -> Int? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.status
    }
}
