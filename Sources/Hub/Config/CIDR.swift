#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An address block (`10.0.0.0/8`, `::1/128`, or a bare address) used to decide
/// whether a peer is a trusted proxy.
public struct CIDR: Sendable, Equatable {
    let network: [UInt8]
    let prefix: Int

    /// Parses `a.b.c.d/n`, `v6/n` or a bare address (full-length prefix).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let bytes = CIDR.parseAddress(String(first)) else { return nil }
        let max = bytes.count * 8
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...max).contains(p) else { return nil }
            prefix = p
        } else {
            prefix = max
        }
        network = bytes
    }

    /// Whether `address` (textual) lies in this block. IPv4-mapped IPv6 peers
    /// (`::ffff:1.2.3.4`) are compared as IPv4.
    public func contains(_ address: String) -> Bool {
        guard var bytes = CIDR.parseAddress(address) else { return false }
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }),
           bytes[10] == 0xff, bytes[11] == 0xff {
            bytes = Array(bytes[12..<16])
        }
        guard bytes.count == network.count else { return false }
        var remaining = prefix
        for i in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[i] & mask != network[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
