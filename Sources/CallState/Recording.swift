/// The document's `recording` object (§1): `{active, recordingId, format, duration}`.
///
/// Each member is its own field (`recording.active`, …) so a recording callback
/// and a client can each fill what they know.
public struct Recording: Sendable, Hashable, Codable {
    /// Whether the call is being recorded.
    public var active: Bool?
    /// The provider's recording id (Twilio `RecordingSid`, …).
    public var recordingId: String?
    /// `mp3` or `wav`.
    public var format: String?
    /// Length in seconds.
    public var duration: Int64?

    /// Creates a recording description.
    public init(active: Bool? = nil, recordingId: String? = nil, format: String? = nil, duration: Int64? = nil) {
        self.active = active
        self.recordingId = recordingId
        self.format = format
        self.duration = duration
    }

    /// `{active, recordingId, format, duration}`, every key present.
    public var json: JSONValue {
        .object([
            "active": active.map(JSONValue.bool) ?? .null,
            "recordingId": recordingId.map(JSONValue.string) ?? .null,
            "format": format.map(JSONValue.string) ?? .null,
            "duration": duration.map(JSONValue.int) ?? .null,
        ])
    }
}
