import Foundation

/// Headless Chromium driven over the DevTools protocol, through the same
/// raw WebSocket client the hub tests use. Real browser, real page.
public final class Chromium {
    public let process = Process()
    public let profile: URL
    private let page: WSClient
    private var nextId = 0
    /// DevTools events (`method`, `params`) read while waiting for answers,
    /// in arrival order: `Network.enable` makes every URL the page opens one.
    public private(set) var events: [[String: Any]] = []

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
         "/Applications/Chromium.app/Contents/MacOS/Chromium"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    public init(url: String, width: Int = 1400, height: Int = 900) throws {
        guard let exe = Chromium.executable else {
            throw Unavailable(description: "chromium is not installed (make test installs it)")
        }
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("sb-chromium-\(UUID().uuidString)")
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                             "--remote-debugging-port=0", "--user-data-dir=\(profile.path)",
                             "--window-size=\(width),\(height)", "about:blank"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Chromium writes its port to DevToolsActivePort once it listens.
        let portFile = profile.appendingPathComponent("DevToolsActivePort")
        var port: Int?
        let deadline = Date(timeIntervalSinceNow: 20)
        while port == nil, Date() < deadline {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let first = text.split(separator: "\n").first {
                port = Int(first)
            } else {
                usleep(100_000)
            }
        }
        guard let port else { throw Unavailable(description: "chromium did not open its DevTools port") }
        // A blank page first, so the error collector is in place before the
        // page's own scripts run.
        let target = try HTTPClient(port: port).request("PUT", "/json/new?about:blank")
        guard let ws = target.json["webSocketDebuggerUrl"] as? String,
              let path = URL(string: ws)?.path else { throw Unavailable(description: "no page target: \(target.text)") }
        page = try WSClient(port: port, path: path)
        try call("Page.enable")
        try call("Page.addScriptToEvaluateOnNewDocument", ["source": Chromium.errorCollector])
        try call("Page.navigate", ["url": url])
    }

    /// Collects the page's uncaught errors and unhandled rejections in
    /// `window.__switchboardErrors` (see `pageErrors()`).
    static let errorCollector = """
        window.__switchboardErrors = [];
        window.addEventListener('error', e => window.__switchboardErrors.push(String(e.message || e.type)));
        window.addEventListener('unhandledrejection', e => window.__switchboardErrors.push('unhandled rejection: ' + String(e.reason)));
        """

    /// The page's uncaught errors so far; nil if the collector is missing
    /// (which a test must treat as a failure, not as "no errors").
    public func pageErrors() throws -> [String]? {
        try evaluate("Array.isArray(window.__switchboardErrors) ? window.__switchboardErrors : null") as? [String]
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: profile)
    }

    /// Sends one DevTools command and returns its `result`.
    @discardableResult
    public func call(_ method: String, _ params: [String: Any] = [:]) throws -> [String: Any] {
        nextId += 1
        let id = nextId
        let data = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
        try page.send(String(decoding: data, as: UTF8.self))
        while true {
            let message = try page.nextJSON(timeout: 30)
            guard message["id"] as? Int == id else {
                if message["method"] != nil { events.append(message) }
                continue
            }
            if let error = message["error"] { throw Unavailable(description: "\(method): \(error)") }
            return message["result"] as? [String: Any] ?? [:]
        }
    }

    /// Evaluates JavaScript in the page and returns its JSON value.
    public func evaluate(_ expression: String) throws -> Any? {
        let result = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Polls `expression` until it is true; returns the seconds it took.
    @discardableResult
    public func waitUntil(_ expression: String, timeout: TimeInterval, every: TimeInterval = 0.05) throws -> TimeInterval? {
        let started = Date()
        while Date().timeIntervalSince(started) < timeout {
            if try evaluate(expression) as? Bool == true { return Date().timeIntervalSince(started) }
            usleep(UInt32(every * 1_000_000))
        }
        return nil
    }

    /// Saves a PNG of the viewport.
    public func screenshot(to file: URL) throws {
        let result = try call("Page.captureScreenshot", ["format": "png"])
        guard let base64 = result["data"] as? String, let png = Data(base64Encoded: base64) else { return }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try png.write(to: file)
    }
}
