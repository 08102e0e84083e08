/// The top-level keys of the document (PROTOCOL.md §1), in document order.
///
/// Internal: it lets the engine track what an input changed as a bit set and
/// spell `changed` only once per input.
enum DocumentKey: Int, CaseIterable, Sendable {
    case sessionId, callId, callUUID, direction, from, to, phoneNumber
    case provider, providerCallId, twilioCallSid, sipCallId, calleeSub
    case deviceStatus, callState, logStatus, recording, quality, metadata
    case startedAt, answeredAt, endedAt, duration, lastSync, syncStatus, version

    /// The wire name: every key is spelled on the wire exactly like its case.
    var name: String { DocumentKey.names[rawValue] }

    /// Spelled once, from the case names, so no table can drift from them.
    private static let names: [String] = allCases.map { String(describing: $0) }
}

/// A set of `DocumentKey`s, one bit each.
struct DocumentKeySet: Sendable, Hashable {
    private(set) var bits: UInt32 = 0

    var isEmpty: Bool { bits == 0 }

    mutating func insert(_ key: DocumentKey) { bits |= 1 << UInt32(key.rawValue) }

    func contains(_ key: DocumentKey) -> Bool { bits & (1 << UInt32(key.rawValue)) != 0 }

    /// The wire names, in document order.
    var names: [String] {
        guard !isEmpty else { return [] }
        var result: [String] = []
        result.reserveCapacity(bits.nonzeroBitCount)
        var rest = bits
        while rest != 0 {
            let index = rest.trailingZeroBitCount
            rest &= rest - 1
            if let key = DocumentKey(rawValue: index) { result.append(key.name) }
        }
        return result
    }
}
