extension CallStateValue {
    /// Parses a raw value (`"on_hold"` → `.onHold`), as `init(rawValue:)` does.
    ///
    /// The merge parses every `callState` update, and the synthesised
    /// `init(rawValue:)` compares the string with each case in turn; the length
    /// and first byte already single out one candidate, so this compares once,
    /// with `==` (equal small strings are equal bit patterns, so that is a
    /// two-word compare, where iterating the UTF-8 views costs hundreds of
    /// instructions).
    static func parse(_ raw: String) -> CallStateValue? {
        let utf8 = raw.utf8
        guard let first = utf8.first else { return nil }
        let candidate: CallStateValue?
        switch (utf8.count, first) {
        case (4, UInt8(ascii: "i")): candidate = .idle
        case (9, UInt8(ascii: "i")): candidate = .initiated
        case (6, UInt8(ascii: "q")): candidate = .queued
        case (7, UInt8(ascii: "r")): candidate = .ringing
        case (10, UInt8(ascii: "c")): candidate = .connecting
        case (9, UInt8(ascii: "c")): candidate = .connected
        case (7, UInt8(ascii: "o")): candidate = .onHold
        case (12, UInt8(ascii: "r")): candidate = .reconnecting
        case (5, UInt8(ascii: "e")): candidate = .ended
        case (8, UInt8(ascii: "d")): candidate = .declined
        case (4, UInt8(ascii: "b")): candidate = .busy
        case (9, UInt8(ascii: "n")): candidate = .noAnswer
        case (6, UInt8(ascii: "f")): candidate = .failed
        case (8, UInt8(ascii: "c")): candidate = .canceled
        default: candidate = nil
        }
        guard let candidate, raw == candidate.rawValue else { return nil }
        return candidate
    }
}
