import CallState
import Store

/// The routes of PROTOCOL.md §12. Each is answered after the archive
/// thread has run its read (`Hub.historyRead`), through `Hub.deliverResponse`.
/// A validated request, or the error answering it at once.
enum Validated<T> {
    case ok(T)
    case refused(HTTPResponse)
}

extension APIRouter {
    static let historyUnavailable = HTTPResponse.error(503, "store_unavailable", "the call archive is not open",
                                                       headers: [("Retry-After", "5")])
    static let pageLimitMax = 500
    static let csvLimitMax = 100_000
    static let summaryGroupings = ["provider", "direction", "hour"]

    func historyRoute(_ route: Route, _ req: HTTPRequest, exchangeId: Int, now: Int64) -> Routed {
        switch route {
        case .history, .historyCSV:
            let csv: Bool
            if case .historyCSV = route { csv = true } else { csv = false }
            return read("GET", req, exchangeId, now, role: { $0.role.canWatchDashboard ? nil : "call history needs role dashboard" }) {
                switch historyQuery(req.query, csv: csv) {
                case .refused(let error): return .refused(error)
                case .ok(let query): return .ok(APIRouter.pageRead(query, csv: csv))
                }
            }
        case .qualitySummary:
            return read("GET", req, exchangeId, now, role: { $0.role.canWatchDashboard ? nil : "the quality summary needs role dashboard" }) {
                let by = req.query["by"] ?? "provider"
                guard APIRouter.summaryGroupings.contains(by) else {
                    return .refused(.error(400, "invalid_filter", "by must be one of " + APIRouter.summaryGroupings.joined(separator: ", ")))
                }
                let range: (from: Int64?, to: Int64?)
                switch (timeParam(req.query, "from"), timeParam(req.query, "to")) {
                case (.refused(let e), _), (_, .refused(let e)): return .refused(e)
                case (.ok(let f), .ok(let t)): range = (f, t)
                }
                let provider = req.query["provider"]
                if let provider, provider.isEmpty || provider.unicodeScalars.count > 128 {
                    return .refused(.error(400, "invalid_filter", "provider must be 1-128 characters"))
                }
                return .ok(APIRouter.summaryRead(range.from, range.to, provider, by))
            }
        case .quality(let id):
            guard req.method == "GET" || req.method == "HEAD" else { return .response(notAllowed(req, "GET")) }
            return session(id, req, now, reading: true) { _ in callQuality(id, exchangeId: exchangeId) }
        default:
            return .response(.error(404, "not_found", "no route for \(req.method) \(req.path)"))
        }
    }

    static func pageRead(_ query: HistoryQuery, csv: Bool) -> HistoryWriter.Read {
        { archive throws(StoreError) -> HistoryWriter.Answer in
            let page = try archive.page(query)
            let next = page.next.map { "\($0.endedAt)~\($0.sessionId)" }
            if csv { return .csv(HistorySummary.csv(page.calls), next: next) }
            return .json(JSONValueBox(.object(["calls": .array(page.calls), "nextCursor": next.map { .string($0) } ?? .null])))
        }
    }

    static func summaryRead(_ from: Int64?, _ to: Int64?, _ provider: String?, _ by: String) -> HistoryWriter.Read {
        { archive throws(StoreError) -> HistoryWriter.Answer in
            let rows = try archive.summaryRows(from: from, to: to, provider: provider)
            return .json(JSONValueBox(HistorySummary.fleet(rows, by: by)))
        }
    }

    /// A guarded GET answered by an archive read: `prepare` validates the
    /// request (an error answers at once) and returns the read.
    private func read(_ method: String, _ req: HTTPRequest, _ exchangeId: Int, _ now: Int64,
                      role: (ClientIdentity) -> String?,
                      prepare: () -> Validated<HistoryWriter.Read>) -> Routed {
        guard req.method == method || req.method == "HEAD" else { return .response(notAllowed(req, method)) }
        var pending = false
        let response = guarded(req, now, refuse: role) { _ in
            switch prepare() {
            case .refused(let error): return error
            case .ok(let read):
                let started = hub.historyRead(read) { result in
                    hub.deliverResponse(exchangeId, APIRouter.answer(result))
                }
                guard started else { return APIRouter.historyUnavailable }
                pending = true
                return .accepted
            }
        }
        return pending ? .pending : .response(response)
    }

    static func answer(_ result: Result<HistoryWriter.Answer, StoreError>) -> HTTPResponse {
        switch result {
        case .failure: return Hub.storeUnavailable
        case .success(.json(let box)): return .json(200, box.value)
        case .success(.csv(let body, let next)):
            // The cursor of the next page travels in a header: the body is only rows.
            var headers: [(String, String)] = [("Content-Disposition", "attachment; filename=\"history.csv\"")]
            if let next { headers.append(("X-Next-Cursor", next)) }
            return HTTPResponse(status: 200, contentType: "text/csv; charset=utf-8", headers: headers, body: body)
        case .success(.erased): return HTTPResponse(status: 204)
        }
    }

    // MARK: - Parameters

    /// Validates the history filters. Unknown parameters (`token`) are ignored.
    func historyQuery(_ query: [String: String], csv: Bool) -> Validated<HistoryQuery> {
        var q = HistoryQuery()
        switch (timeParam(query, "from"), timeParam(query, "to")) {
        case (.refused(let e), _), (_, .refused(let e)): return .refused(e)
        case (.ok(let f), .ok(let t)): (q.from, q.to) = (f, t)
        }
        let terminal = CallStateValue.allCases.filter(\.isTerminal).map(\.rawValue)
        let grades = QualityGrade.allCases.map(\.rawValue)
        if let state = query["state"] {
            guard terminal.contains(state) else {
                return .refused(.error(400, "invalid_filter", "state must be one of " + terminal.joined(separator: ", ")))
            }
            q.state = state
        }
        if let grade = query["grade"] {
            guard grades.contains(grade) else {
                return .refused(.error(400, "invalid_filter", "grade must be one of " + grades.joined(separator: ", ")))
            }
            q.grade = grade
        }
        for (name, limit) in [("provider", 128), ("calleeSub", 256), ("q", 256)] {
            guard let value = query[name] else { continue }
            guard !value.isEmpty, value.unicodeScalars.count <= limit else {
                return .refused(.error(400, "invalid_filter", "\(name) must be 1-\(limit) characters"))
            }
            switch name {
            case "provider": q.provider = value
            case "calleeSub": q.calleeSub = value
            default: q.q = value
            }
        }
        let maxLimit = csv ? APIRouter.csvLimitMax : APIRouter.pageLimitMax
        q.limit = csv ? 1000 : 50
        if let text = query["limit"] {
            // Above the maximum is clamped (as page sizes usually are); not a number, or under 1, is a mistake.
            guard let n = Int(text), n >= 1 else {
                return .refused(.error(400, "invalid_filter", "limit must be an integer from 1 to \(maxLimit)"))
            }
            q.limit = min(n, maxLimit)
        }
        if let cursor = query["cursor"] {
            guard let tilde = cursor.firstIndex(of: "~"), let endedAt = Int64(cursor[..<tilde]),
                  case let id = String(cursor[cursor.index(after: tilde)...]), SessionID.isValid(id) else {
                return .refused(.error(400, "invalid_cursor", "cursor must be a nextCursor value from an earlier page"))
            }
            q.after = (endedAt, id)
        }
        return .ok(q)
    }

    /// `from` / `to`: milliseconds since the epoch (PROTOCOL.md: every time is ms).
    func timeParam(_ query: [String: String], _ name: String) -> Validated<Int64?> {
        guard let text = query[name] else { return .ok(nil) }
        guard let ms = Int64(text), ms >= 0 else {
            return .refused(.error(400, "invalid_filter", "\(name) must be a time in milliseconds since the Unix epoch"))
        }
        return .ok(ms)
    }

    // MARK: - One call

    /// `GET /api/calls/{id}` for a call no longer in memory: the archived
    /// document with `"archived": true`, or 404.
    func archivedCall(_ id: String, exchangeId: Int) -> Routed {
        archiveLookup(id, exchangeId: exchangeId) { found in
            guard case .object(var members) = found.document else { return .null }
            members["archived"] = true
            return .object(members)
        }
    }

    /// `GET /api/calls/{id}/timeline` for an archived call.
    func archivedTimeline(_ id: String, exchangeId: Int) -> Routed {
        archiveLookup(id, exchangeId: exchangeId) { found in
            .object(["sessionId": .string(id), "archived": true, "entries": found.timeline])
        }
    }

    private func archiveLookup(_ id: String, exchangeId: Int,
                               _ shape: @escaping @Sendable ((epoch: String, document: JSONValue, timeline: JSONValue)) -> JSONValue) -> Routed {
        let started = hub.historyRead({ archive throws(StoreError) in
            .json(JSONValueBox(try archive.call(id).map(shape) ?? .null))
        }) { result in
            if case .success(.json(let box)) = result, box.value == .null {
                hub.deliverResponse(exchangeId, .error(404, "not_found", "no session \(id)"))
            } else {
                hub.deliverResponse(exchangeId, APIRouter.answer(result))
            }
        }
        return started ? .pending : .response(.error(404, "not_found", "no session \(id)"))
    }

    /// `GET /api/calls/{id}/quality`: the series of the live session (this
    /// epoch) or of the archived call.
    func callQuality(_ id: String, exchangeId: Int) -> Routed {
        // A session a subscription created after the call left memory holds
        // nothing yet (version 0): the archived call is the one asked for.
        let liveEpoch = hub.sessions[id].flatMap { $0.engine.version > 0 ? $0.engine.epoch : nil }
        let limit = hub.config.history.qualityPoints
        let started = hub.historyRead({ archive throws(StoreError) in
            let epoch: String
            if let liveEpoch { epoch = liveEpoch } else {
                guard let archived = try archive.archivedEpoch(id) else { return .json(JSONValueBox(.null)) }
                epoch = archived
            }
            return .json(JSONValueBox(HistorySummary.series(id, try archive.samples(id, epoch: epoch), limit: limit,
                                                            archived: liveEpoch == nil)))
        }) { result in
            if case .success(.json(let box)) = result, box.value == .null {
                hub.deliverResponse(exchangeId, .error(404, "not_found", "no session \(id)"))
            } else {
                hub.deliverResponse(exchangeId, APIRouter.answer(result))
            }
        }
        return started ? .pending : .response(APIRouter.historyUnavailable)
    }

    /// `DELETE /api/calls/{id}` (admin): erased from memory, journal and archive → 204; 404 if none held it.
    func deleteCall(_ id: String, _ req: HTTPRequest, exchangeId: Int, now: Int64) -> Routed {
        guard SessionID.isValid(id) else { return .response(invalidSession) }
        var pending = false
        let response = guarded(req, now) { $0.role.isAdmin ? nil : "erasing calls needs role admin" } then: { _ in
            let started = hub.eraseCall(id) { result in
                switch result {
                case .success(true): hub.deliverResponse(exchangeId, HTTPResponse(status: 204))
                case .success(false): hub.deliverResponse(exchangeId, .error(404, "not_found", "no session \(id)"))
                case .failure: hub.deliverResponse(exchangeId, Hub.storeUnavailable)
                }
            }
            guard started else { return APIRouter.historyUnavailable }
            pending = true
            return .accepted
        }
        return pending ? .pending : .response(response)
    }
}
