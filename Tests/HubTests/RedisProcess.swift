import Foundation
import HubTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` for the cluster tests: its own free port and its
/// own temporary directory, durable the way the hub requires by default
/// (`appendonly yes`, `appendfsync always`, no RDB snapshots).
final class RedisProcess {
    private(set) var process = Process()
    let port: Int
    let dir: URL
    let fsync: String
    private let output = LogBuffer()

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The redis-server executable, or nil when it is not installed
    /// (`scripts/install-deps.sh redis-server`; `make test` does it).
    static var binary: URL? {
        for dir in ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"] {
            let url = URL(fileURLWithPath: dir).appendingPathComponent("redis-server")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    /// - Parameter fsync: `appendfsync` (tests of the start-up check pass `everysec`).
    init(fsync: String = "always") throws {
        port = HubProcess.freePort()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-redis-\(UUID().uuidString)")
        self.fsync = fsync
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try start()
    }

    /// The URL hubs are configured with (`store.url`).
    var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts (or restarts, on the same port and data) the server and waits until it answers.
    func start() throws {
        guard let binary = RedisProcess.binary else {
            throw Failure(description: "redis-server is not installed: run `scripts/install-deps.sh redis-server` (make test does)")
        }
        process = Process()
        process.executableURL = binary
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir.path,
                             "--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--daemonize", "no"]
        let pipe = Pipe()
        output.capture(process, through: pipe)
        try process.run()
        let up = HubProcess.waitUntil(timeout: 10) { (try? ping()) == true }
        guard up else { throw Failure(description: "redis-server did not start:\n\(output.text)") }
    }

    /// Stops the server with `SHUTDOWN` (it flushes and exits) and waits.
    /// Not SIGTERM: a child of the test runner inherits its ignored signals.
    func stop() {
        guard process.isRunning else { return }
        if let socket = try? TestSocket(port: port) {
            try? socket.write(Array("SHUTDOWN\r\n".utf8))
        }
        let exited = HubProcess.waitUntil(timeout: 10) { !process.isRunning }
        if !exited { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// True when the server answers `PING` with `+PONG`.
    func ping() throws -> Bool {
        let socket = try TestSocket(port: port)
        try socket.write(Array("PING\r\n".utf8))
        let reply = try socket.read(until: Array("\r\n".utf8), deadline: Date(timeIntervalSinceNow: 1))
        return String(decoding: reply, as: UTF8.self).hasPrefix("+PONG")
    }

    /// `redis-cli` against this server: what it printed.
    func cli(_ args: [String]) throws -> String {
        let cli = URL(fileURLWithPath: "/usr/bin/redis-cli")
        return try HubProcess.runToExit(cli, arguments: ["-p", String(port)] + args).output
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
