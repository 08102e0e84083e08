import Auth
import CallState
import Crypto

/// The JWT verifier (`TokenVerifier`, PROTOCOL.md §5). The first byte picks
/// the mode: even → the input is a token as received (header, payload and
/// signature all fuzzed); odd → the rest is `header\npayload` JSON, signed
/// here with the HS256 secret, so the claims checks behind the signature
/// see every input.
let secret = Array("fuzz-hs256-secret-0123456789abcdef".utf8)
let verifier = try! TokenVerifier(hs256Secret: secret, publicKeysPEM: [], audience: "switchboard", maxTtlSec: 3600)
let nowMs: Int64 = 1_795_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenVerifier(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let mode = bytes.first else { return 0 }
    let rest = Array(bytes.dropFirst())
    let token: String
    if mode & 1 == 0 {
        token = String(decoding: rest, as: UTF8.self)
    } else {
        let parts = rest.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false)
        let header = parts.count > 1 ? Array(parts[0]) : Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)
        let payload = Array(parts.last ?? [])
        let signingInput = Crypto.base64URLEncode(header) + "." + Crypto.base64URLEncode(payload)
        token = signingInput + "." + Crypto.base64URLEncode(Crypto.hmacSHA256(key: secret, message: Array(signingInput.utf8)))
    }
    if let claims = try? verifier.verify(token, nowMs: nowMs) {
        precondition(claims.exp * 1000 > nowMs, "an expired token verified")
    }
    return 0
}
