import Foundation
import HubTestSupport

/// A real HTTP receiver for outbound webhooks: a small Python
/// `ThreadingHTTPServer` started by the test. It checks every request's
/// `X-Switchboard-Signature` against the secret, the content type and the
/// event-id header, answers by its mode, and logs each request, readable at
/// `GET /log` as `[{id, type, sessionId, version, status, signed, start, at, data}]`
/// (`start`: when the request arrived, `at`: when it was answered).
final class WebhookReceiver {
    let process = Process()
    let port: Int
    private let output = LogBuffer()
    private let pipe = Pipe()

    /// - Parameters:
    ///   - port: where to listen (pick with `freePort()` to start it after the hub).
    ///   - failFirst: answer this many requests 500 before answering 200.
    ///   - slowSession: requests of this session are answered after `slowMs`.
    ///   - status: the status every other request gets (410 to test Gone).
    init(port: Int, secret: String, failFirst: Int = 0, slowSession: String = "", slowMs: Int = 0,
         status: Int = 200) throws {
        self.port = port
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("sb-receiver-\(UUID().uuidString).py")
        try WebhookReceiver.script.write(to: script, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, String(port), secret, String(failFirst), slowSession,
                             String(slowMs), String(status)]
        guard try output.start(process, through: pipe, until: "READY") else { throw ReceiverFailed(log: output.text) }
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        pipe.fileHandleForReading.readabilityHandler = nil
    }

    /// Every request so far, in arrival order of its answer.
    func log() throws -> [[String: Any]] {
        let response = try HTTPClient(port: port).get("/log")
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]]) ?? []
    }

    /// The requests answered 2xx.
    func delivered() throws -> [[String: Any]] {
        try log().filter { ($0["status"] as? Int).map { (200..<300).contains($0) } ?? false }
    }

    /// Whether every request for a session's event N+1 (of `type`) arrived
    /// after event N was answered 2xx: the per-session order of §11.
    static func eachWaitedForThePrevious2xx(_ log: [[String: Any]], session: String, type: String) -> Bool {
        let requests = log.filter { $0["sessionId"] as? String == session && $0["type"] as? String == type }
        for request in requests {
            guard let version = request["version"] as? Int, let start = request["start"] as? Double else { return false }
            let earlier = requests.filter { ($0["version"] as? Int ?? 0) < version }
            let earlierOK = earlier.filter { ($0["status"] as? Int) == 200 }
            // Every earlier version was answered 2xx before this request came.
            let versions = Set(earlier.compactMap { $0["version"] as? Int })
            for v in versions {
                guard let ok = earlierOK.first(where: { $0["version"] as? Int == v }),
                      let at = ok["at"] as? Double, at <= start else { return false }
            }
        }
        return true
    }

    /// Polls `condition` over the log until it holds or `timeout` passes.
    func wait(timeout: TimeInterval = 20, _ condition: ([[String: Any]]) -> Bool) throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if condition(try log()) { return true }
            usleep(50_000)
        }
        return condition(try log())
    }

    static let script = #"""
import hashlib, hmac, json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

port, secret, fail_first, slow_session, slow_ms, status = (
    int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
lock = threading.Lock()
log = []
failures = [fail_first]

def signed(header, body):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    if abs(time.time() - int(parts["t"])) > 300:
        return False
    expected = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        with lock:
            body = json.dumps(log).encode()
        self.answer(200, body)
    def do_POST(self):
        start = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        event = json.loads(body)
        ok = (signed(self.headers.get("X-Switchboard-Signature", ""), body)
              and self.headers.get("Content-Type") == "application/json"
              and self.headers.get("X-Switchboard-Event-Id") == event.get("id"))
        code = 200
        if not ok:
            code = 401
        else:
            with lock:
                if failures[0] > 0:
                    failures[0] -= 1
                    code = 500
            if code == 200 and event.get("sessionId") == slow_session:
                time.sleep(slow_ms / 1000.0)
            if code == 200:
                code = status
        with lock:
            log.append({"id": event.get("id"), "type": event.get("type"), "sessionId": event.get("sessionId"),
                        "version": event.get("version"), "status": code, "signed": ok,
                        "start": start, "at": time.time(), "data": event.get("data")})
        self.answer(code)

server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("READY", flush=True)
server.serve_forever()
"""#
}

/// The receiver did not start.
struct ReceiverFailed: Error { let log: String }
