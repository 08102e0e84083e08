import Auth
import Crypto
import Foundation
import Testing

/// Fixed clock for every test: 2023-11-14T22:13:20Z.
let nowSec: Int64 = 1_700_000_000
let nowMs: Int64 = nowSec * 1000
let audience = "switchboard"
let secret = Array("switchboard-test-secret-0123456789abcdef".utf8)

func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }
func b64(_ s: String) -> String { Crypto.base64URLEncode(utf8(s)) }

/// A compact JWS from literal header and payload JSON. `key` signs with
/// HS256 (whatever the header claims); nil leaves the signature empty.
func rawJWT(header: String, payload: String, hmacKey key: [UInt8]? = secret) -> String {
    let input = b64(header) + "." + b64(payload)
    guard let key else { return input + "." }
    return input + "." + Crypto.base64URLEncode(Crypto.hmacSHA256(key: key, message: utf8(input)))
}

/// A payload with every claim valid at `nowSec`, fields overridable.
func payload(_ overrides: [String: String] = [:], drop: Set<String> = []) -> String {
    var fields: [String: String] = [
        "sub": "\"user-1\"", "sid": "\"s-42\"", "role": "\"client\"",
        "exp": "\(nowSec + 600)", "iat": "\(nowSec)", "aud": "\"\(audience)\"",
    ]
    for (k, v) in overrides { fields[k] = v }
    for k in drop { fields[k] = nil }
    return "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
}

let hsHeader = #"{"alg":"HS256","typ":"JWT"}"#

func verifier(secret s: [UInt8]? = secret, keys: [String] = [], maxTtlSec: Int = 3600) -> TokenVerifier {
    try! TokenVerifier(hs256Secret: s, publicKeysPEM: keys, audience: audience, maxTtlSec: maxTtlSec)
}

/// The error `verify` throws, or nil if it accepted the token.
func refusal(_ token: String, _ v: TokenVerifier = verifier(), at ms: Int64 = nowMs) -> AuthError? {
    do {
        _ = try v.verify(token, nowMs: ms)
        return nil
    } catch {
        return error
    }
}

/// Keys generated once per test run with the `openssl` CLI, so the
/// verifier is checked against an independent implementation.
struct OpenSSLKey: Sendable, CustomTestStringConvertible {
    let privatePath: String
    let privatePEM: String
    let publicPEM: String
    /// The file name, not the PEM, in test names and logs.
    var testDescription: String { URL(fileURLWithPath: privatePath).lastPathComponent }

    /// Signs `input` with the CLI: PKCS#1 v1.5 / ECDSA (DER) via `dgst`,
    /// Ed25519 via `pkeyutl -rawin`.
    func cliSign(_ input: String, ed25519: Bool = false) -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("authtests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inPath = dir.appendingPathComponent("in").path
        let outPath = dir.appendingPathComponent("sig").path
        try! Data(input.utf8).write(to: URL(fileURLWithPath: inPath))
        if ed25519 {
            runOpenSSL(["pkeyutl", "-sign", "-inkey", privatePath, "-rawin", "-in", inPath, "-out", outPath])
        } else {
            runOpenSSL(["dgst", "-sha256", "-sign", privatePath, "-out", outPath, inPath])
        }
        return [UInt8](try! Data(contentsOf: URL(fileURLWithPath: outPath)))
    }
}

enum Keys {
    static let dir: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("authtests-keys-\(getpid())")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Test keys are throwaway: remove them when the test process exits.
        atexit { try? FileManager.default.removeItem(at: Keys.dir) }
        return dir
    }()

    static func generate(_ name: String, _ args: [String]) -> OpenSSLKey {
        let priv = dir.appendingPathComponent("\(name).pem").path
        let pub = dir.appendingPathComponent("\(name).pub.pem").path
        runOpenSSL(["genpkey"] + args + ["-out", priv])
        runOpenSSL(["pkey", "-in", priv, "-pubout", "-out", pub])
        return OpenSSLKey(privatePath: priv,
                          privatePEM: try! String(contentsOfFile: priv, encoding: .utf8),
                          publicPEM: try! String(contentsOfFile: pub, encoding: .utf8))
    }

    static let rsa = generate("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
    static let rsa2 = generate("rsa2", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
    static let rsa1024 = generate("rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])
    static let ec = generate("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
    static let ecP384 = generate("ec384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"])
    static let ed = generate("ed", ["-algorithm", "ED25519"])
}

@discardableResult
func runOpenSSL(_ args: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = args
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try! process.run()
    process.waitUntilExit()
    precondition(process.terminationStatus == 0, "openssl \(args.joined(separator: " ")) failed")
    return process.terminationStatus
}

/// A compact JWS signed by the `openssl` CLI: `args` is the `openssl`
/// command that signs (for example `dgst -sha384 -hmac KEY`); the signing
/// input is appended as its input file and the raw signature read back.
func cliJWT(header: String, payload: String, _ args: [String]) -> String {
    let input = b64(header) + "." + b64(payload)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("authtests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inPath = dir.appendingPathComponent("in").path
    let outPath = dir.appendingPathComponent("sig").path
    try! Data(input.utf8).write(to: URL(fileURLWithPath: inPath))
    runOpenSSL(args + ["-binary", "-out", outPath, inPath])
    return input + "." + Crypto.base64URLEncode([UInt8](try! Data(contentsOf: URL(fileURLWithPath: outPath))))
}
