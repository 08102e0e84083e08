/// One encoded server→client message, shared by every subscriber it goes to.
///
/// The hot path encodes a frame once and hands the same `Frame` to every
/// subscriber's queue (DESIGN.md "The hot path"). The bytes sit after
/// `headroom` spare bytes so the transport can write the WebSocket header in
/// place (libwebsockets needs `LWS_PRE` bytes before the payload) without a copy.
public final class Frame: @unchecked Sendable {
    /// What kind of frame this is; conflation only skips `.state` and `.quality`.
    public enum Kind: Sendable { case snapshot, state, quality, presence, reply, dashboard }

    public let kind: Kind
    /// The session version this frame carries (0 for replies).
    public let version: Int64
    /// Spare bytes before the payload.
    public let headroom: Int
    /// Payload length in bytes.
    public let count: Int
    /// `headroom + count` bytes; immutable after init, hence safe to share.
    public let storage: UnsafeMutableRawPointer

    /// Copies `payload` after `headroom` spare bytes.
    public init(kind: Kind, version: Int64, headroom: Int, payload: [UInt8]) {
        self.kind = kind
        self.version = version
        self.headroom = headroom
        self.count = payload.count
        // Byte alignment: nothing reads the bytes as wider values, and an
        // alignment above the allocator's default makes Swift call
        // posix_memalign, which skips malloc's per-thread cache.
        storage = UnsafeMutableRawPointer.allocate(byteCount: headroom + max(payload.count, 1), alignment: 1)
        payload.withUnsafeBytes { src in
            if let base = src.baseAddress { (storage + headroom).copyMemory(from: base, byteCount: src.count) }
        }
    }

    deinit { storage.deallocate() }

    /// The payload (no headroom).
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + headroom, count: count)
    }

    /// The payload as text (tests and logs).
    public var text: String { String(decoding: payload, as: UTF8.self) }
}
