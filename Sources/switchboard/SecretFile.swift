import Crypto
import Hub
import Transport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The generated HS256 secret in the data directory, for hubs started
/// without `auth.hs256Secret` (PROTOCOL.md §8).
enum SecretFile {
    static func path(_ dataDir: String) -> String { dataDir + "/hs256.secret" }

    /// Reads the secret, or creates it (32 random bytes, base64url, mode 0600).
    /// - Returns: the secret and whether it was created just now.
    static func loadOrCreate(dataDir: String) throws -> (secret: String, created: Bool) {
        let file = path(dataDir)
        if let bytes = ConfigLoader.readFile(file) {
            var text = String(decoding: bytes, as: UTF8.self)
            while text.last == "\n" || text.last == "\r" { text.removeLast() }
            return (text, false)
        }
        mkdir(dataDir, 0o700)
        let secret = Crypto.base64URLEncode(Crypto.randomBytes(32))
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw StartError(message: "cannot create \(file): \(String(cString: strerror(errno)).lowercased())") }
        defer { close(fd) }
        let line = Array((secret + "\n").utf8)
        guard write(fd, line, line.count) == line.count else { throw StartError(message: "cannot write \(file)") }
        return (secret, true)
    }

    /// Creates the data directory if needed and checks the hub can write it,
    /// so the start fails with a sentence, not with the first failed write.
    static func checkDataDir(_ dataDir: String) throws {
        var st = stat()
        if stat(dataDir, &st) != 0 {
            guard mkdir(dataDir, 0o700) == 0 || errno == EEXIST else {
                throw StartError(message: "cannot create data dir \(dataDir): \(String(cString: strerror(errno)).lowercased())")
            }
        } else if (st.st_mode & S_IFMT) != S_IFDIR {
            throw StartError(message: "data dir \(dataDir) is not a directory")
        }
        guard access(dataDir, W_OK | X_OK) == 0 else {
            throw StartError(message: "cannot write data dir \(dataDir): \(String(cString: strerror(errno)).lowercased())")
        }
    }

    /// The config with `auth.hs256Secret` filled from the data directory when unset.
    static func resolve(_ config: inout HubConfig) throws -> Bool {
        guard config.auth.hs256Secret == nil else { return false }
        let (secret, created) = try loadOrCreate(dataDir: config.dataDir)
        config.auth.hs256Secret = secret
        return created
    }
}
