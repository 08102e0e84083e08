import CallState
import JSONCodec
import Providers

/// The HTTP API of PROTOCOL.md §6 that is not static files or a WebSocket.
///
/// Returns nil for paths it does not own, so the transport can fall back to
/// static files.
public struct APIRouter {
    let hub: Hub

    public init(hub: Hub) { self.hub = hub }

    /// Routes one request. Called on the reactor thread.
    /// - Parameters:
    ///   - exchangeId: the transport's id for this request, for answers that
    ///     come later (long-poll) through `Hub.deliverResponse`.
    /// - Returns: `.response` now, `.pending` for a later answer, `nil` when
    ///   the path is not an API route (static files).
    public func route(_ req: HTTPRequest, exchangeId: Int, now: Int64 = WallClock.nowMs()) -> Routed? {
        if case .call(let id) = Route(pathSegments(req.path)), req.method == "GET" {
            return getCall(id, req, exchangeId: exchangeId, now: now)
        }
        return handle(req, now: now).map { .response($0) }
    }

    func pathSegments(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
    }

    /// Routes a request that is answered at once.
    public func handle(_ req: HTTPRequest, now: Int64 = WallClock.nowMs()) -> HTTPResponse? {
        switch Route(pathSegments(req.path)) {
        case .healthz:
            return only("GET", req) { .json(200, ["status": "ok"]) }
        case .readyz:
            return only("GET", req) {
                hub.draining
                    ? .error(503, "draining", "hub is shutting down", headers: [("Retry-After", "5")])
                    : .json(200, ["status": "ready"])
            }
        case .metrics:
            return only("GET", req) {
                HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4", body: Array(hub.renderMetrics().utf8))
            }
        case .calls:
            return only("GET", req) {
                .json(200, ["sessions": .array(hub.sessionRows(state: req.query["state"], grade: req.query["grade"]))])
            }
        case .call:
            return only("GET", req) { .error(500, "internal", "unreachable: GET is routed by route(_:)") }
        case .sync(let id):
            return only("POST", req) { sync(id, req, now: now) }
        case .webhook(let route):
            return only("POST", req) { hub.webhook(route, req, now: now) }
        case .unknownAPI:
            return .error(404, "not_found", "no route for \(req.method) \(req.path)")
        case nil:
            return nil
        }
    }

    /// What routing decided.
    public enum Routed {
        case response(HTTPResponse)
        /// Answered later through `Hub.deliverResponse`.
        case pending
    }

    /// The API paths, matched on decoded path segments.
    enum Route {
        case healthz, readyz, metrics
        case calls
        case call(String)
        case sync(String)
        case webhook(WebhookRoute)
        case unknownAPI

        init?(_ s: [String]) {
            if let route = WebhookRoute(path: "/" + s.joined(separator: "/")) {
                self = .webhook(route)
                return
            }
            switch s.count {
            case 1 where s[0] == "healthz": self = .healthz
            case 1 where s[0] == "readyz": self = .readyz
            case 1 where s[0] == "metrics": self = .metrics
            case 2 where s[0] == "api" && s[1] == "calls": self = .calls
            case 3 where s[0] == "api" && s[1] == "calls": self = .call(s[2])
            case 4 where s[0] == "api" && s[1] == "calls" && s[3] == "sync": self = .sync(s[2])
            default:
                guard s.first == "api" || s.first == "webhooks" else { return nil }
                self = .unknownAPI
            }
        }
    }

    func only(_ method: String, _ req: HTTPRequest, _ body: () -> HTTPResponse) -> HTTPResponse {
        guard req.method == method || (method == "GET" && req.method == "HEAD") else {
            return .error(405, "method_not_allowed", "\(req.path) accepts \(method)", headers: [("Allow", method)])
        }
        return body()
    }

    /// `GET /api/calls/{id}`: the document with its ETag; `If-None-Match` → 304;
    /// `?since=V&wait=S` holds the request until the version passes V or S
    /// seconds (at most 30) elapse, then answers 304.
    func getCall(_ id: String, _ req: HTTPRequest, exchangeId: Int, now: Int64) -> Routed {
        guard SessionID.isValid(id) else { return .response(.error(400, "invalid_session_id", "session id must be 1-128 of [A-Za-z0-9._:-]")) }
        guard let doc = hub.document(id) else { return .response(.error(404, "not_found", "no session \(id)")) }
        var since: Int64?
        if let text = req.query["since"] {
            guard let v = Int64(text), v >= 0 else { return .response(.error(400, "bad_request", "since must be a version number")) }
            since = v
        }
        var waitSec = 0
        if let text = req.query["wait"] {
            guard let w = Int(text), w >= 0 else { return .response(.error(400, "bad_request", "wait must be seconds (0-30)")) }
            waitSec = min(w, 30)
        }
        if let since, doc.version > since { return .response(Hub.documentResponse(doc)) }
        if let since, waitSec > 0 {
            hub.holdLongPoll(exchangeId: exchangeId, sessionId: id, since: since, deadline: now + Int64(waitSec) * 1000)
            return .pending
        }
        let etag = Hub.etag(doc.epoch, doc.version)
        if since != nil || req.headers["if-none-match"].map({ Hub.etagMatches($0, etag) }) == true {
            return .response(HTTPResponse(status: 304, headers: [("ETag", etag)]))
        }
        return .response(Hub.documentResponse(doc))
    }

    func sync(_ id: String, _ req: HTTPRequest, now: Int64) -> HTTPResponse {
        guard SessionID.isValid(id) else { return .error(400, "invalid_session_id", "session id must be 1-128 of [A-Za-z0-9._:-]") }
        if let type = req.headers["content-type"], !type.lowercased().hasPrefix("application/json") {
            return .error(415, "unsupported_media_type", "send application/json")
        }
        guard !hub.draining else { return .error(503, "draining", "hub is shutting down", headers: [("Retry-After", "5")]) }
        let body: JSONValue
        do { body = try JSONCodec.parse(req.body) } catch { return .error(400, "invalid_json", "body is not valid JSON") }
        let identity = ClientIdentity(sub: "anonymous", role: "client")
        do {
            let decoded = try InputDecoder.sync(body, identity: identity, receivedAt: now)
            let outcome = hub.submit(decoded, to: id, now: now)
            return .json(200, [
                "ok": .bool(true),
                "sessionId": .string(id),
                "version": .int(outcome.version),
                "applied": .array(outcome.applied.map { .string($0.name) }),
                "ignored": .array(outcome.ignored.map { .object(["field": .string($0.field), "reason": .string($0.reason)]) }),
                "duplicate": .bool(outcome.duplicate),
            ])
        } catch {
            return .error(422, error.code, error.message)
        }
    }
}
