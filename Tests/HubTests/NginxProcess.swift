import Foundation
import HubTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real nginx in front of a hub, configured from the shipped
/// `Config/nginx.conf`: the test rewrites only what must differ on a test
/// machine (ports, pid/log/temp paths, the user, optionally the WebSocket
/// timeouts) and fails loudly when a line it rewrites is gone, so the proxy
/// under test is the one operators copy.
final class NginxProcess {
    let process = Process()
    let port: Int
    let dir: URL
    private let output = LogBuffer()
    private let pipe = Pipe()

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The nginx executable, or nil when it is not installed
    /// (`scripts/install-deps.sh nginx`; `make test` does it).
    static var binary: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin"]
        for dir in candidates {
            let url = URL(fileURLWithPath: dir).appendingPathComponent("nginx")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    static func requireBinary() throws -> URL {
        guard let binary else {
            throw Failure(description: "nginx is not installed: run `scripts/install-deps.sh nginx` (make test does)")
        }
        return binary
    }

    static var shippedConfigURL: URL { HubProcess.repoRoot.appendingPathComponent("Config/nginx.conf") }

    static func shippedConfig() throws -> String {
        try String(contentsOf: shippedConfigURL, encoding: .utf8)
    }

    /// Replaces `target` by `replacement` on every directive line (comments
    /// are left alone); fails when no directive line contains `target`.
    static func substitute(_ text: inout String, _ target: String, _ replacement: String) throws {
        var found = false
        let lines = text.components(separatedBy: "\n").map { line -> String in
            guard !line.drop(while: { $0 == " " }).hasPrefix("#"), line.contains(target) else { return line }
            found = true
            return line.replacingOccurrences(of: target, with: replacement)
        }
        guard found else {
            throw Failure(description: "Config/nginx.conf no longer has a directive line with `\(target)`: update NginxProcess.render")
        }
        text = lines.joined(separator: "\n")
    }

    /// The shipped config made runnable in `dir`: upstream = the hub's port,
    /// listening on 127.0.0.1:`port`, every file under `dir`.
    /// - Parameter webSocketTimeout: replaces the `/ws/` location's 75 s
    ///   read/send timeouts (tests scale the hub's keepalive down to seconds).
    static func render(_ shipped: String, upstreamPort: Int, port: Int, dir: URL, webSocketTimeout: Int? = nil) throws -> String {
        var conf = shipped
        try substitute(&conf, "user www-data;", geteuid() == 0 ? "user root;" : "")
        try substitute(&conf, "worker_processes auto;", "worker_processes 1;")
        try substitute(&conf, "pid /run/nginx.pid;", "pid \(dir.path)/nginx.pid;")
        try substitute(&conf, "error_log /var/log/nginx/error.log warn;", "error_log \(dir.path)/error.log info;")
        try substitute(&conf, "access_log /var/log/nginx/access.log switchboard;", "access_log \(dir.path)/access.log switchboard;")
        try substitute(&conf, "server 127.0.0.1:8080;", "server 127.0.0.1:\(upstreamPort);")
        try substitute(&conf, "listen 80;", "listen 127.0.0.1:\(port);")
        try substitute(&conf, "listen [::]:80;", "")
        if let webSocketTimeout {
            try substitute(&conf, "proxy_read_timeout 75s;", "proxy_read_timeout \(webSocketTimeout)s;")
            try substitute(&conf, "proxy_send_timeout 75s;", "proxy_send_timeout \(webSocketTimeout)s;")
        }
        // Debian's nginx keeps request bodies under /var/lib/nginx, which a
        // non-root test cannot write.
        let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map { "    \($0)_temp_path \(dir.path)/\($0);" }.joined(separator: "\n")
        try substitute(&conf, "http {", "http {\n" + temp)
        return conf
    }

    /// Starts nginx in front of the hub listening on `upstreamPort`.
    /// - Parameter transform: a last edit of the rendered config.
    convenience init(upstreamPort: Int, webSocketTimeout: Int? = nil,
                     transform: (String) -> String = { $0 }) throws {
        var lastError: Error?
        // The free port may be taken between probing and nginx's bind: retry.
        for _ in 0..<3 {
            do {
                try self.init(upstreamPort: upstreamPort, port: freePort(),
                              webSocketTimeout: webSocketTimeout, transform: transform)
                return
            } catch let error as Failure where error.description.contains("Address already in use") {
                lastError = error
            }
        }
        throw lastError!
    }

    private init(upstreamPort: Int, port: Int, webSocketTimeout: Int?, transform: (String) -> String) throws {
        let binary = try NginxProcess.requireBinary()
        self.port = port
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let conf = transform(try NginxProcess.render(NginxProcess.shippedConfig(), upstreamPort: upstreamPort, port: port,
                                                     dir: dir, webSocketTimeout: webSocketTimeout))
        let confURL = dir.appendingPathComponent("nginx.conf")
        try conf.write(to: confURL, atomically: true, encoding: .utf8)

        process.executableURL = binary
        process.arguments = ["-p", dir.path + "/", "-c", confURL.path, "-g", "daemon off;"]
        output.capture(process, through: pipe)
        try process.run()

        // Ready when the port accepts a connection.
        let deadline = Date(timeIntervalSinceNow: 10)
        while Date() < deadline {
            if !process.isRunning { break }
            if (try? TestSocket(port: port)) != nil { return }
            usleep(20_000)
        }
        let log = self.log
        stop()
        throw Failure(description: "nginx did not start on port \(port):\n\(log)")
    }

    deinit {
        stop()
        pipe.fileHandleForReading.readabilityHandler = nil
        try? FileManager.default.removeItem(at: dir)
    }

    /// Fast shutdown (SIGTERM: the master stops its workers), then waits.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date(timeIntervalSinceNow: 5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// nginx's stderr and error log.
    var log: String {
        let errorLog = (try? String(contentsOf: dir.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
        return output.text + errorLog
    }

    var accessLog: String {
        (try? String(contentsOf: dir.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
    }

    /// HTTP through the proxy, as an admin.
    var http: HTTPClient { HTTPClient(port: port, token: HubProcess.token(role: .admin, sub: "admin")) }
    var anonymous: HTTPClient { HTTPClient(port: port, token: nil) }

    /// A WebSocket through the proxy, with a client token granting every
    /// session unless `token` says otherwise.
    /// - Parameter source: the local address to connect from (another client).
    func connect(_ path: String, token: String?? = .none, headers: [String: String] = [:], source: String? = nil) throws -> WSClient {
        let chosen: String? = token ?? HubProcess.token(role: path == "/ws/dashboard" ? .dashboard : .client,
                                                        sid: path == "/ws/dashboard" ? nil : "*")
        var target = path
        if let chosen { target += (path.contains("?") ? "&" : "?") + "token=" + chosen }
        return try WSClient(port: port, path: target, headers: headers, source: source)
    }

    /// `nginx -t` on a config file; returns nginx's verdict.
    static func check(_ conf: String, in dir: URL) throws -> (ok: Bool, output: String) {
        let confURL = dir.appendingPathComponent("nginx-check.conf")
        try conf.write(to: confURL, atomically: true, encoding: .utf8)
        let run = try HubProcess.runToExit(try requireBinary(), arguments: ["-t", "-p", dir.path + "/", "-c", confURL.path])
        return (run.status == 0, run.output)
    }
}
