/// Who observed an update. Its rank breaks ties in the merge order (§2.2 rule 4):
/// the provider sees the network, the backend sees business context, a client
/// sees one device.
public enum SourceKind: String, Hashable, Sendable, Comparable, Codable {
    case client, backend, provider

    /// provider 2 > backend 1 > client 0.
    public var rank: Int {
        switch self {
        case .client: return 0
        case .backend: return 1
        case .provider: return 2
        }
    }

    public static func < (lhs: SourceKind, rhs: SourceKind) -> Bool { lhs.rank < rhs.rank }
}
