extension Hub {
    /// The client's address: the peer, or, when the peer is a trusted proxy,
    /// the last address in `X-Forwarded-For` / `Forwarded` that is not itself
    /// a trusted proxy.
    public func clientAddress(peer: String, headers: [String: String]) -> String {
        guard trustedProxies.contains(where: { $0.contains(peer) }) else { return peer }
        var chain: [String] = []
        if let xff = headers["x-forwarded-for"] {
            chain = xff.split(separator: ",").map { String($0).trimmingSpaces }
        } else if let forwarded = headers["forwarded"] {
            for element in forwarded.split(separator: ",") {
                for pair in element.split(separator: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces }
                    guard kv.count == 2, kv[0].lowercased() == "for" else { continue }
                    var value = kv[1].replacingAll("\"", "")
                    // RFC 7239 §6: an IPv6 node is bracketed; either kind may carry a port.
                    if value.hasPrefix("[") {
                        value = String(value.dropFirst().prefix { $0 != "]" })
                    } else if value.filter({ $0 == ":" }).count == 1 {
                        value = String(value.prefix { $0 != ":" })
                    }
                    chain.append(value)
                }
            }
        }
        for address in chain.reversed() where !trustedProxies.contains(where: { $0.contains(address) }) {
            return address
        }
        return chain.first ?? peer
    }
}
