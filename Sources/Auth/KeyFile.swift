#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads `@/path` config values. The config loader resolves `@` for single
/// secrets; `auth.publicKeys` is a list it passes through verbatim, so the
/// verifier resolves each entry itself.
enum KeyFile {
    /// Largest key file read: a 16384-bit RSA PEM is ~3 KiB; anything far
    /// bigger is not a key and should not be slurped into memory.
    static let maxBytes = 64 * 1024

    /// The file's contents as UTF-8, or nil if it cannot be read or is too big.
    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if bytes.count > maxBytes { return nil }
            if n < chunk.count {
                return ferror(file) == 0 ? String(decoding: bytes, as: UTF8.self) : nil
            }
        }
    }
}
