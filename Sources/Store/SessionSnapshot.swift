import CallState
import Foundation

/// One session's whole engine state at a moment when all of its journaled
/// inputs were applied. Stored in place of those inputs, it bounds the time
/// a restart spends replaying a long call (PROTOCOL.md §7).
public struct SessionSnapshot: Sendable, Equatable {
    public var sessionId: String
    public var epoch: String
    /// The encoded `CallSession` (JSON of its `Codable` form).
    public var payload: [UInt8]

    public init(sessionId: String, epoch: String, payload: [UInt8]) {
        self.sessionId = sessionId
        self.epoch = epoch
        self.payload = payload
    }

    /// Captures `session` exactly: registers, dedupe memory, timeline,
    /// quality, version and epoch.
    public init(_ session: CallSession) {
        // Encoding plain value types cannot fail; a failure is a programming error.
        let data = try! JSONEncoder().encode(session)
        self.init(sessionId: session.sessionId, epoch: session.epoch, payload: [UInt8](data))
    }

    /// The session as it was captured.
    public func session() throws(StoreError) -> CallSession {
        do {
            var session = try JSONDecoder().decode(CallSession.self, from: Data(payload))
            session.addRegistersOfNewFields()
            return session
        } catch {
            throw StoreError(message: "snapshot of session \(sessionId) does not decode: \(error)")
        }
    }
}
