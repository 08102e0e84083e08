import Auth
import CallState
import JSONCodec
import Providers
import Store

/// The HTTP API of PROTOCOL.md §6 that is not static files or a WebSocket.
///
/// Every route states its guard: the role it needs and, for session routes,
/// that the token grants that session. Webhooks authenticate by signature,
/// health and metrics need nothing.
public struct APIRouter {
    let hub: Hub

    public init(hub: Hub) { self.hub = hub }

    /// What routing decided.
    public enum Routed {
        case response(HTTPResponse)
        /// Answered later through `Hub.deliverResponse`.
        case pending
    }

    /// Routes one request. Called on the reactor thread.
    /// - Parameters:
    ///   - exchangeId: the transport's id for this request, for answers that
    ///     come later (long-poll, journal commit) through `Hub.deliverResponse`.
    /// - Returns: nil when the path is not an API route (static files).
    public func route(_ req: HTTPRequest, exchangeId: Int, now: Int64 = WallClock.nowMs()) -> Routed? {
        guard let route = Route(req.path) else { return nil }
        switch route {
        case .healthz:
            return only("GET", req) { .json(200, ["status": "ok"]) }
        case .readyz:
            return only("GET", req) {
                if hub.draining { return Hub.drainingResponse }
                if !hub.storeHealthy { return .error(503, "store_unavailable", "the journal is failing", headers: [("Retry-After", "5")]) }
                return .json(200, ["status": "ready"])
            }
        case .metrics:
            return only("GET", req) {
                HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4", body: Array(hub.renderMetrics().utf8))
            }
        case .calls:
            return only("GET", req) {
                guarded(req, now) { $0.role.canWatchDashboard ? nil : "listing calls needs role dashboard" } then: { _ in
                    // A filter value that can never match is a typo, not an empty list.
                    let states = CallStateValue.allCases.map(\.rawValue)
                    let grades = ["excellent", "good", "fair", "poor", "bad"]
                    if let state = req.query["state"], !states.contains(state) {
                        return .error(400, "invalid_filter", "state must be one of " + states.joined(separator: ", ")
                            + " (stale calls: ?stale=true)")
                    }
                    if let grade = req.query["grade"], !grades.contains(grade) {
                        return .error(400, "invalid_filter", "grade must be one of " + grades.joined(separator: ", "))
                    }
                    // `stale` is a flag beside the state (a stale call is still
                    // "connected"), so it filters on its own: ?stale=true.
                    var stale: Bool?
                    if let value = req.query["stale"] {
                        guard value == "true" || value == "false" else {
                            return .error(400, "invalid_filter", "stale must be true or false")
                        }
                        stale = value == "true"
                    }
                    return .json(200, ["sessions": .array(hub.sessionRows(state: req.query["state"], grade: req.query["grade"],
                                                                         stale: stale, now: now))])
                }
            }
        case .cluster:
            return only("GET", req) {
                guarded(req, now) { $0.role.isAdmin ? nil : "the cluster table needs role admin" } then: { _ in
                    hub.clusterJSON().map { .json(200, $0) } ?? .error(404, "not_found", "store.kind is not redis: no cluster")
                }
            }
        case .initiate:
            guard req.method == "POST" else { return .response(notAllowed(req, "POST")) }
            return deferred(exchangeId, guarded(req, now) { $0.role.isAdmin ? nil : "creating calls needs role admin" } then: { caller in
                rateLimited(caller, now) ?? writable(req) { (body: JSONValue) throws(InputError) in
                    try hub.initiate(body, caller: caller, now: now) { hub.deliverResponse(exchangeId, $0) }
                    return HTTPResponse.accepted
                }
            })
        case .call(let id) where req.method == "DELETE":
            return deleteCall(id, req, exchangeId: exchangeId, now: now)
        case .call(let id):
            guard req.method == "GET" || req.method == "HEAD" else { return .response(notAllowed(req, "GET")) }
            return session(id, req, now, reading: true) { _ in getCall(id, req, exchangeId: exchangeId, now: now) }
        case .timeline(let id):
            return session(id, req, now, reading: true) { _ in
                guard req.method == "GET" else { return .response(notAllowed(req, "GET")) }
                guard let timeline = hub.timeline(id) else { return archivedTimeline(id, exchangeId: exchangeId) }
                return .response(.json(200, ["sessionId": .string(id), "entries": timeline]))
            }
        case .sync(let id):
            guard req.method == "POST" else { return .response(notAllowed(req, "POST")) }
            return session(id, req, now, reading: false) { identity in
                deferred(exchangeId, rateLimited(identity, now) ?? writable(req) { (body: JSONValue) throws(InputError) in
                    let decoded = try InputDecoder.sync(body, identity: identity, receivedAt: now)
                    try hub.accept(decoded, to: id, now: now) { hub.deliverResponse(exchangeId, ackResponse(id, $0)) }
                    return HTTPResponse.accepted
                })
            }
        case .events(let id):
            guard req.method == "POST" else { return .response(notAllowed(req, "POST")) }
            guard SessionID.isValid(id) else { return .response(invalidSession) }
            return deferred(exchangeId, guarded(req, now) { $0.role.isAdmin ? nil : "backend events need role admin" } then: { identity in
                rateLimited(identity, now) ?? writable(req) { (body: JSONValue) throws(InputError) in
                    let decoded = try InputDecoder.report(body, identity: identity, receivedAt: now, kind: "backend.event",
                                                          sourceKind: .backend, source: "backend", stateByName: true)
                    try hub.accept(decoded, to: id, now: now) { hub.deliverResponse(exchangeId, ackResponse(id, $0)) }
                    return HTTPResponse.accepted
                }
            })
        case .twilioToken:
            return only("GET", req) { twilioToken(req, now) }
        case .webhookDeliveries:
            return only("GET", req) {
                guarded(req, now) { $0.role.isAdmin ? nil : "webhook deliveries need role admin" } then: { _ in
                    hub.webhookDeliveries(req)
                }
            }
        case .webhookRetry(let id):
            guard req.method == "POST" else { return .response(notAllowed(req, "POST")) }
            return .response(guarded(req, now) { $0.role.isAdmin ? nil : "retrying webhook deliveries needs role admin" } then: { _ in
                hub.retryWebhookDelivery(id, now: now)
            })
        case .devices(let sub):
            return devices(sub, req, now)
        case .device(let sub, let deviceId):
            return device(sub, deviceId, req, exchangeId: exchangeId, now)
        case .history, .historyCSV, .qualitySummary, .quality:
            return historyRoute(route, req, exchangeId: exchangeId, now: now)
        case .webhook(let route):
            guard req.method == "POST" else { return .response(notAllowed(req, "POST")) }
            return deferred(exchangeId, hub.webhook(route, req, now: now) { hub.deliverResponse(exchangeId, $0) })
        case .unknown:
            return .response(.error(404, "not_found", "no route for \(req.method) \(req.path)"))
        }
    }

    // MARK: - Guards

    static let invalidSessionMessage = "session id must be 1-128 of [A-Za-z0-9._:-]"
    var invalidSession: HTTPResponse { .error(400, "invalid_session_id", Self.invalidSessionMessage) }

    func only(_ method: String, _ req: HTTPRequest, _ body: () -> HTTPResponse) -> Routed {
        guard req.method == method || (method == "GET" && req.method == "HEAD") else { return .response(notAllowed(req, method)) }
        return .response(body())
    }

    func notAllowed(_ req: HTTPRequest, _ method: String) -> HTTPResponse {
        .error(405, "method_not_allowed", "\(req.path) accepts \(method)", headers: [("Allow", method)])
    }

    /// Authenticates, then applies `refusal` (a reason string means 403).
    func guarded(_ req: HTTPRequest, _ now: Int64, refuse refusal: (ClientIdentity) -> String?,
                 then body: (ClientIdentity) -> HTTPResponse) -> HTTPResponse {
        let identity: ClientIdentity
        do { identity = try hub.authenticate(headers: req.headers, query: req.query, now: now) } catch {
            return .error(error.httpStatus, error.code, error.message,
                          headers: error.httpStatus == 401 ? [("WWW-Authenticate", "Bearer")] : [])
        }
        if let reason = refusal(identity) { return .error(403, "forbidden", reason) }
        return body(identity)
    }

    /// A session route: valid id, a token that grants it, and for writes the
    /// right to report.
    func session(_ id: String, _ req: HTTPRequest, _ now: Int64, reading: Bool,
                 _ body: (ClientIdentity) -> Routed) -> Routed {
        guard SessionID.isValid(id) else { return .response(invalidSession) }
        var result: Routed?
        let response = guarded(req, now) { identity in
            if !identity.canRead(id) { return "token does not grant session \(id)" }
            if !reading && !identity.role.canReport { return "reporting needs role client" }
            return nil
        } then: { identity in
            result = body(identity)
            return HTTPResponse(status: 0)
        }
        return result ?? .response(response)
    }

    /// 429 with `Retry-After` when the token (`sub` + `sid`) has used its
    /// HTTP writes (`limits.httpWritesPerSecond`, bursts of
    /// `limits.httpWriteBurst`); nil to go on. Checked before the body is
    /// parsed, so a refused write costs little.
    func rateLimited(_ identity: ClientIdentity, _ now: Int64) -> HTTPResponse? {
        let key = identity.sub + "\u{0}" + (identity.sid ?? "")
        guard let retryAfter = hub.httpWriteLimiter.take(key, now: now) else { return nil }
        hub.metrics.increment("switchboard_http_writes_limited_total")
        return .error(429, "rate_limited", "too many writes for this token; retry after \(retryAfter) s",
                      headers: [("Retry-After", "\(retryAfter)")])
    }

    /// A JSON write: content type, drain state, body parse, input errors → 422.
    func writable(_ req: HTTPRequest, _ apply: (JSONValue) throws(InputError) -> HTTPResponse) -> HTTPResponse {
        if let type = req.headers["content-type"], !type.lowercased().hasPrefix("application/json") {
            return .error(415, "unsupported_media_type", "send application/json")
        }
        guard !hub.draining else { return Hub.drainingResponse }
        let body: JSONValue
        do { body = try JSONCodec.parse(req.body) } catch { return .error(400, "invalid_json", "body is not valid JSON") }
        guard case .object = body else { return .error(400, "invalid_json", "body must be a JSON object") }
        do { return try apply(body) } catch { return .error(422, error.code, error.message) }
    }

    /// `.accepted` from a handler means "answered later, after the commit";
    /// anything else is an immediate answer (an error).
    func deferred(_ exchangeId: Int, _ response: HTTPResponse) -> Routed {
        response == .accepted ? .pending : .response(response)
    }

    func ackResponse(_ id: String, _ result: Result<InputOutcome, StoreError>) -> HTTPResponse {
        guard case .success(let outcome) = result else { return Hub.storeUnavailable }
        return .json(200, [
            "ok": true,
            "sessionId": .string(id),
            "version": .int(outcome.version),
            "applied": .array(outcome.applied.map { .string($0.name) }),
            "ignored": .array(outcome.ignored.map(\.json)),
            "duplicate": .bool(outcome.duplicate),
        ])
    }

    // MARK: - GET /api/calls/{id}

    /// The document with its ETag; `If-None-Match` → 304; `?since=V&wait=S`
    /// holds the request until the version passes V or S seconds (at most 30)
    /// elapse, then answers 304.
    func getCall(_ id: String, _ req: HTTPRequest, exchangeId: Int, now: Int64) -> Routed {
        guard let doc = hub.document(id) else { return archivedCall(id, exchangeId: exchangeId) }
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

    // MARK: - GET /api/twilio/token

    /// A fresh Twilio Voice token for `?session=`: a client token granted
    /// that session, or admin; a token for another session is 403.
    func twilioToken(_ req: HTTPRequest, _ now: Int64) -> HTTPResponse {
        guard let id = req.query["session"], !id.isEmpty else {
            return .error(400, "bad_request", "session is required: /api/twilio/token?session=<sessionId>")
        }
        guard SessionID.isValid(id) else { return invalidSession }
        return guarded(req, now) { identity in
            if !identity.canRead(id) { return "token does not grant session \(id)" }
            if !identity.role.canReport { return "a Twilio token needs role client (or admin)" }
            return nil
        } then: { caller in
            hub.refreshTwilioToken(id, caller: caller, now: now)
        }
    }

    // MARK: - Paths

    /// The API paths, matched on decoded path segments.
    enum Route {
        case healthz, readyz, metrics, calls, initiate, twilioToken, webhookDeliveries, cluster, unknown
        case history, historyCSV, qualitySummary, quality(String)
        case webhookRetry(String)
        case call(String), sync(String), events(String), timeline(String)
        case webhook(WebhookRoute)
        case devices(String), device(String, String)

        init?(_ path: String) {
            if let route = WebhookRoute(path: path) {
                self = .webhook(route)
                return
            }
            let s = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
            switch s.count {
            case 1 where s[0] == "healthz": self = .healthz
            case 1 where s[0] == "readyz": self = .readyz
            case 1 where s[0] == "metrics": self = .metrics
            case 2 where s[0] == "api" && s[1] == "calls": self = .calls
            case 2 where s[0] == "api" && s[1] == "cluster": self = .cluster
            case 2 where s[0] == "api" && s[1] == "history": self = .history
            case 2 where s[0] == "api" && s[1] == "history.csv": self = .historyCSV
            case 3 where s[0] == "api" && s[1] == "quality" && s[2] == "summary": self = .qualitySummary
            case 4 where s[0] == "api" && s[1] == "calls" && s[3] == "quality": self = .quality(s[2])
            case 3 where s[0] == "api" && s[1] == "calls" && s[2] == "initiate": self = .initiate
            case 3 where s[0] == "api" && s[1] == "calls": self = .call(s[2])
            case 3 where s[0] == "api" && s[1] == "twilio" && s[2] == "token": self = .twilioToken
            case 3 where s[0] == "api" && s[1] == "webhooks" && s[2] == "deliveries": self = .webhookDeliveries
            case 5 where s[0] == "api" && s[1] == "webhooks" && s[2] == "deliveries" && s[4] == "retry":
                self = .webhookRetry(s[3])
            case 4 where s[0] == "api" && s[1] == "users" && s[3] == "devices": self = .devices(s[2])
            case 5 where s[0] == "api" && s[1] == "users" && s[3] == "devices": self = .device(s[2], s[4])
            case 4 where s[0] == "api" && s[1] == "calls" && s[3] == "sync": self = .sync(s[2])
            case 4 where s[0] == "api" && s[1] == "calls" && s[3] == "events": self = .events(s[2])
            case 4 where s[0] == "api" && s[1] == "calls" && s[3] == "timeline": self = .timeline(s[2])
            default:
                guard s.first == "api" || s.first == "webhooks" else { return nil }
                self = .unknown
            }
        }
    }
}
