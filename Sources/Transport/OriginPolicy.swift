/// Which browser origins may open a WebSocket (PROTOCOL.md §5).
///
/// A pure value: the allow list and the hub's public URL, asked about one
/// `Origin` and the request's `Host`. Allowed are an exact entry of the list
/// and, always, the hub's own origin: that of `server.publicUrl` and the
/// host the request was sent to (scheme `http` or `https`). Filling in the
/// list for a foreign app must not lock out the dashboard the hub serves.
public struct OriginPolicy: Sendable, Equatable {
    /// `security.allowedOrigins`, compared exactly.
    public var allowed: [String]
    /// `server.publicUrl` reduced to an origin, or nil when it has no host.
    public var ownOrigin: String?

    public init(allowed: [String], publicUrl: String) {
        self.allowed = allowed
        self.ownOrigin = OriginPolicy.origin(ofURL: publicUrl)
    }

    /// True when a page at `origin` may connect; `host` is the request's `Host` field.
    public func allows(_ origin: String, host: String?) -> Bool {
        if allowed.contains(origin) { return true }
        // Browsers send the origin serialized: lower-case scheme and host, no
        // default port. Normalizing the configured side the same way means a
        // publicUrl written `https://Hub.example.com:443/` still matches.
        guard let normalized = OriginPolicy.origin(ofURL: origin) else { return false }
        if let ownOrigin, normalized == ownOrigin { return true }
        if let host, let sameHost = OriginPolicy.origin(ofURL: "http://" + host) {
            let hostPart = sameHost.dropFirst("http://".count)
            return normalized == "http://" + hostPart || normalized == "https://" + hostPart
        }
        return false
    }

    /// `scheme://host[:port]` of an http(s) URL, lower-cased, the default
    /// port dropped; nil for anything else (`null`, other schemes, no host).
    public static func origin(ofURL url: String) -> String? {
        let lowered = url.lowercased()
        let scheme: String
        if lowered.hasPrefix("http://") { scheme = "http" } else if lowered.hasPrefix("https://") { scheme = "https" } else { return nil }
        var rest = lowered.dropFirst(scheme.count + 3)
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        guard !rest.isEmpty else { return nil }
        var authority = String(rest)
        let defaultPort = scheme == "http" ? ":80" : ":443"
        // Only a port after the host (and after an IPv6 literal's bracket) is dropped.
        if authority.hasSuffix(defaultPort), !authority.hasSuffix("]") {
            authority.removeLast(defaultPort.count)
        }
        guard !authority.isEmpty, !authority.hasPrefix(":") else { return nil }
        return scheme + "://" + authority
    }
}
