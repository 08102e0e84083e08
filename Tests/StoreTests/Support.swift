import CallState
import Foundation
import Store

/// A fresh directory under the system temp dir, removed when released.
final class TempDir: @unchecked Sendable {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/storetests.XXXXXX").utf8CString)
        path = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let made = mkdtemp(base) else { fatalError("mkdtemp failed") }
            return String(cString: made)
        }
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Inputs shaped like the hub's: a provider status, a client report with PII and metadata, quality.
enum Fixtures {
    static let phone = "+15550100"

    static func input(_ n: Int, session: String = "s1") -> Input {
        let ts = 1_700_000_000_000 + Int64(n)
        switch n % 3 {
        case 0:
            return Input(
                kind: "twilio.status", source: "twilio", sourceKind: .provider,
                eventId: "CA\(session):\(n):ringing", receivedAt: ts + 5,
                updates: [
                    Update(field: .callState, value: .string("ringing"), ts: ts, source: "twilio",
                           sourceKind: .provider, seq: Int64(n), eventId: "CA\(session):\(n):ringing"),
                    Update(field: .to, value: .string(phone), ts: ts, source: "twilio", sourceKind: .provider,
                           seq: Int64(n), eventId: "CA\(session):\(n):ringing"),
                ])
        case 1:
            return Input(
                kind: "client.report", source: "client:ann", sourceKind: .client,
                eventId: nil, receivedAt: ts,
                updates: [
                    Update(field: .phoneNumber, value: .string(phone), ts: ts, source: "client:ann", sourceKind: .client),
                    Update(field: .metadata("agent"), value: .string("ann"), ts: ts, source: "client:ann", sourceKind: .client),
                ])
        default:
            return Input(
                kind: "client.quality", source: "client:ann", sourceKind: .client,
                eventId: "q\(n)", receivedAt: ts,
                quality: [QualitySample(ts: ts, latency: 40.5, rtt: 81, jitter: 3.25, packetLoss: 0.5, source: "client:ann")])
        }
    }

    static func entry(_ n: Int, session: String = "s1", epoch: String = "ep1") -> JournalEntry {
        JournalEntry(sessionId: session, epoch: epoch, input: input(n, session: session))
    }

    /// The database and its WAL, as bytes (PII may sit in either).
    static func bytesOnDisk(_ path: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for file in [path, path + "-wal"] {
            if let data = FileManager.default.contents(atPath: file) { bytes += data }
        }
        return bytes
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], Array(haystack[index..<index + needle.count]) == needle { return true }
            index += 1
        }
        return false
    }
}

/// A counter other threads can bump (the writer's wake closure).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
