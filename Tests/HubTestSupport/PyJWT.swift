import Foundation

/// Decodes and verifies a JWT with PyJWT (Debian `python3-jwt`, which
/// `make test` installs): an HS256 check written by other people, so a
/// token the hub mints is proven against the published algorithm rather
/// than against the hub's own code.
public enum PyJWT {
    public struct Refused: Error, CustomStringConvertible {
        public let output: String
        public var description: String { "PyJWT refused the token: \(output)" }
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "no python3 with PyJWT found: install python3-jwt (make test does)" }
    }

    /// The Python that imports `jwt`: Debian's `/usr/bin/python3` first (where
    /// `python3-jwt` installs), then whichever `python3` is on the `PATH`.
    static let interpreter: [String]? = {
        for candidate in [["/usr/bin/python3"], ["/usr/bin/env", "python3"]] {
            guard FileManager.default.isExecutableFile(atPath: candidate[0]),
                  let result = try? HubProcess.runToExit(URL(fileURLWithPath: candidate[0]),
                                                         arguments: Array(candidate.dropFirst()) + ["-c", "import jwt"]),
                  result.status == 0 else { continue }
            return candidate
        }
        return nil
    }()

    /// Verifies `token` as HS256 with `secret` (signature, `exp`, `nbf`,
    /// `iat`) and returns its header and claims as PyJWT read them.
    /// - Throws: `Refused` when PyJWT rejects it, `Unavailable` without PyJWT.
    public static func verifyHS256(_ token: String, secret: String,
                                   requiring claims: [String] = ["exp", "iss", "sub", "jti"]) throws -> (header: [String: Any], claims: [String: Any]) {
        guard let python = interpreter else { throw Unavailable() }
        let script = """
            import json, sys, jwt
            token, secret, required = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": required})
            print(json.dumps({"header": jwt.get_unverified_header(token), "claims": claims}))
            """
        let argsJSON = String(decoding: try JSONSerialization.data(withJSONObject: claims), as: UTF8.self)
        let result = try HubProcess.runToExit(URL(fileURLWithPath: python[0]),
                                              arguments: Array(python.dropFirst()) + ["-c", script, token, secret, argsJSON])
        guard result.status == 0,
              let line = result.output.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let header = object["header"] as? [String: Any], let decoded = object["claims"] as? [String: Any] else {
            throw Refused(output: result.output)
        }
        return (header, decoded)
    }
}
