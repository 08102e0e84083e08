#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maps request paths to files under `public/`, refusing anything that could
/// step outside it.
struct StaticFiles {
    /// The canonical (symlink-free) root directory.
    let root: String?

    init(directory: String) {
        root = StaticFiles.realPath(directory)
    }

    /// The file to serve for `path`, or nil (404). `path` is already %-decoded
    /// by the request parser; nothing is decoded again, so `%2e%2e` arriving
    /// here is a literal file name, never a parent reference.
    func resolve(_ path: String) -> String? {
        guard let root, path.hasPrefix("/") else { return nil }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        for s in segments where s == ".." || s == "." || s.contains("\\") || s.contains("\0") || s.hasPrefix(".") {
            return nil
        }
        var candidate = root + "/" + segments.joined(separator: "/")
        if path.hasSuffix("/") || segments.isEmpty || StaticFiles.isDirectory(candidate) {
            candidate += (candidate.hasSuffix("/") ? "" : "/") + "index.html"
        }
        // Symlinks could still point outside: compare canonical paths.
        guard let real = StaticFiles.realPath(candidate), real.hasPrefix(root + "/"),
              StaticFiles.isRegularFile(real) else { return nil }
        return real
    }

    static func contentType(_ file: String) -> String {
        let ext = file.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch ext {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        case "txt", "md": return "text/plain; charset=utf-8"
        case "woff2": return "font/woff2"
        default: return "application/octet-stream"
        }
    }

    /// The file's bytes (files under `public/` are small: read whole per request).
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { return out }
            out.append(contentsOf: chunk[..<n])
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
