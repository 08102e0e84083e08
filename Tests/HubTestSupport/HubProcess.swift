import Auth
import Foundation

/// The real `switchboard` binary, started on port 0 as a child process.
///
/// Each test gets its own hub, its own data directory and its own config;
/// the port is read from the `listening on http://HOST:PORT` log line, the
/// way an operator's tooling would.
public final class HubProcess {
    public let process = Process()
    public private(set) var port = 0
    public let dataDir: URL
    private let ownsData: Bool
    private let errPipe = Pipe()
    private let output = LogBuffer()

    public struct StartFailure: Error, CustomStringConvertible {
        public let log: String
        public var description: String { "hub did not start:\n\(log)" }
    }

    /// The built executable next to the test bundle.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["SWITCHBOARD_BIN"] { return URL(fileURLWithPath: path) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("switchboard")
    }

    /// The repository root (for `public/`).
    public static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// - Parameters:
    ///   - config: JSON merged over the test defaults (port 0, memory store, repo `public/`).
    ///   - environment: extra `SWITCHBOARD_*` variables.
    ///   - dataDir: reuse another hub's data directory (restart tests); the
    ///     directory is then left for its owner to delete.
    ///   - launcher: a command the binary runs under (for example `strace -f -o FILE`);
    ///     the hub is then that command's child, see `hubPID`.
    public init(config: [String: Any] = [:], environment: [String: String] = [:], arguments: [String] = [],
         dataDir reused: URL? = nil, launcher: [String] = []) throws {
        ownsData = reused == nil
        dataDir = reused ?? FileManager.default.temporaryDirectory.appendingPathComponent("sb-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let defaults: [String: Any] = [
            "server": ["host": "127.0.0.1", "port": 0],
            "auth": ["hs256Secret": HubProcess.secret],
            "store": ["kind": "memory"],
            "publicDir": HubProcess.repoRoot.appendingPathComponent("public").path,
        ]
        let merged = HubProcess.merging(config, into: defaults)
        let configURL = dataDir.appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: merged).write(to: configURL)

        let serve = ["serve", "--config", configURL.path, "--data-dir", dataDir.path] + arguments
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [HubProcess.binary.path] + serve
        } else {
            process.executableURL = HubProcess.binary
            process.arguments = serve
        }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWITCHBOARD_") }
        env.merge(environment) { $1 }
        process.environment = env
        output.capture(process, through: errPipe)
        try process.run()

        let deadline = Date(timeIntervalSinceNow: 15)
        var found: Int?
        while found == nil, Date() < deadline, process.isRunning {
            if let range = log.range(of: #"listening on http://[^ :]+:(\d+)"#, options: .regularExpression) {
                found = Int(log[range].split(separator: ":").last ?? "")
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            process.terminate()
            throw StartFailure(log: log)
        }
        port = found
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        errPipe.fileHandleForReading.readabilityHandler = nil
        if ownsData { try? FileManager.default.removeItem(at: dataDir) }
    }

    /// The hub's own process id: the child of the launcher when there is one.
    public var hubPID: pid_t {
        let me = process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(me)/task/\(me)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { pid_t($0) } ?? me
    }

    /// Everything the hub printed so far.
    public var log: String { output.text }

    /// Waits until the log contains `text`; false when `timeout` passes first.
    public func waitForLog(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !log.contains(text) {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// A TCP port free on 127.0.0.1 right now (bound to 0, read, closed).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The sum of a metric's samples on `/metrics` (every label set), 0 if absent.
    public func metric(_ name: String) throws -> Double {
        try http.get("/metrics").text.split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0, +)
    }

    /// Waits until `condition` holds; false when `timeout` passes first.
    /// Tests wait on what they expect to see, never for a fixed time.
    public static func waitUntil(timeout: TimeInterval, every: TimeInterval = 0.02,
                                 _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while try !condition() {
            if Date() >= deadline { return false }
            usleep(UInt32(every * 1_000_000))
        }
        return true
    }

    /// The HS256 secret every test hub is configured with.
    public static let secret = "switchboard-test-secret-0123456789abcdef"

    /// A token signed with the test secret.
    public static func token(role: Role, sub: String = "tester", sid: String? = nil, ttl: Int64 = 600,
                      audience: String = "switchboard", now: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        TokenMinter.hs256(Claims(sub: sub, sid: sid, role: role, exp: now + ttl, iat: now, aud: audience),
                          secret: Array(secret.utf8))
    }

    /// HTTP as an admin (every route allowed); `anonymous` sends no token.
    public var http: HTTPClient { HTTPClient(port: port, token: HubProcess.token(role: .admin, sub: "admin")) }
    public var anonymous: HTTPClient { HTTPClient(port: port, token: nil) }

    /// A WebSocket with a token: dashboard role for `/ws/dashboard`, else a
    /// client granted every session. Pass `token: nil` to send none.
    public func connect(_ path: String, token: String?? = .none, headers: [String: String] = [:],
                 receiveBuffer: Int? = nil) throws -> WSClient {
        let chosen: String? = token ?? HubProcess.token(role: path == "/ws/dashboard" ? .dashboard : .client,
                                                        sid: path == "/ws/dashboard" ? nil : "*")
        var target = path
        if let chosen { target += (path.contains("?") ? "&" : "?") + "token=" + chosen }
        return try WSClient(port: port, path: target, headers: headers, receiveBuffer: receiveBuffer)
    }

    /// Sends `signal` and waits for exit; returns the exit status.
    public func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 15) -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Runs the binary to completion (for start-up failures).
    public static func runToExit(arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWITCHBOARD_") }
        env.merge(environment) { $1 }
        return try HubProcess.runToExit(binary, arguments: arguments, environment: env)
    }

    /// Runs `executable` to completion; its exit status and everything it
    /// printed (stdout and stderr together). `environment` nil: inherited.
    public static func runToExit(_ executable: URL, arguments: [String],
                                 environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        if let environment { p.environment = environment }
        let pipe = Pipe()
        p.standardError = pipe
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `overrides` laid over `base` one level deep: a section (an object)
    /// in both is merged key by key, anything else replaced.
    public static func merging(_ overrides: [String: Any], into base: [String: Any]) -> [String: Any] {
        var merged = base
        for (k, v) in overrides {
            if var section = merged[k] as? [String: Any], let extra = v as? [String: Any] {
                section.merge(extra) { $1 }
                merged[k] = section
            } else {
                merged[k] = v
            }
        }
        return merged
    }
}

/// Output collected from the child on the pipe's reader thread.
public final class LogBuffer: @unchecked Sendable {  // `value` is only touched under `lock`
    public init() {}
    private let lock = NSLock()
    private var value = ""

    public func append(_ text: String) {
        lock.lock()
        value += text
        lock.unlock()
    }

    public var text: String {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    /// Sends the child's stdout and stderr through `pipe` into this buffer,
    /// read as it arrives (set the pipe's `readabilityHandler` to nil when done).
    public func capture(_ process: Process, through pipe: Pipe) {
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if !data.isEmpty { append(String(decoding: data, as: UTF8.self)) }
        }
    }

    /// Starts `process` with its output captured here and waits until it
    /// prints `marker` (a helper server saying it listens). On a timeout or
    /// an early exit the process is ended and false returned.
    public func start(_ process: Process, through pipe: Pipe, until marker: String, seconds: TimeInterval = 10) throws -> Bool {
        capture(process, through: pipe)
        try process.run()
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !text.contains(marker), Date() < deadline, process.isRunning { usleep(20_000) }
        guard text.contains(marker) else {
            process.terminate()
            return false
        }
        return true
    }
}
