import CallState

/// Long-polling `GET /api/calls/{id}?since=V&wait=S` (PROTOCOL.md §6): the
/// polling fallback for clients that cannot hold a WebSocket.
extension Hub {
    struct LongPoll {
        let exchangeId: Int
        let since: Int64
        let deadline: Int64
    }

    static func etag(_ epoch: String, _ version: Int64) -> String { "\"\(epoch).\(version)\"" }

    /// `If-None-Match` may list several tags, or `*`.
    static func etagMatches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { tag in
            let t = String(tag).trimmingSpaces
            return t == "*" || t == etag || t == "W/" + etag
        }
    }

    static func documentResponse(_ doc: (json: JSONValue, epoch: String, version: Int64)) -> HTTPResponse {
        .json(200, doc.json, headers: [("ETag", etag(doc.epoch, doc.version))])
    }

    func holdLongPoll(exchangeId: Int, sessionId: String, since: Int64, deadline: Int64) {
        longPolls[sessionId, default: []].append(LongPoll(exchangeId: exchangeId, since: since, deadline: deadline))
        longPollSessions[exchangeId] = sessionId
    }

    /// The transport lost the request (client went away): forget it.
    public func cancelPending(_ exchangeId: Int) {
        guard let sessionId = longPollSessions.removeValue(forKey: exchangeId) else { return }
        longPolls[sessionId]?.removeAll { $0.exchangeId == exchangeId }
        if longPolls[sessionId]?.isEmpty == true { longPolls[sessionId] = nil }
    }

    /// Answers the waiters of a session whose version moved past theirs.
    func wakeLongPolls(_ sessionId: String) {
        guard let waiting = longPolls[sessionId], let doc = document(sessionId) else { return }
        var still: [LongPoll] = []
        for poll in waiting {
            if doc.version > poll.since {
                longPollSessions[poll.exchangeId] = nil
                deliverResponse(poll.exchangeId, Hub.documentResponse(doc))
            } else {
                still.append(poll)
            }
        }
        longPolls[sessionId] = still.isEmpty ? nil : still
    }

    /// Times out waiters: 304, the document has not changed.
    func expireLongPolls(now: Int64) {
        for (sessionId, waiting) in longPolls {
            var still: [LongPoll] = []
            for poll in waiting {
                if poll.deadline <= now || draining {
                    longPollSessions[poll.exchangeId] = nil
                    let etag = document(sessionId).map { Hub.etag($0.epoch, $0.version) }
                    deliverResponse(poll.exchangeId, HTTPResponse(status: 304, headers: etag.map { [("ETag", $0)] } ?? []))
                } else {
                    still.append(poll)
                }
            }
            longPolls[sessionId] = still.isEmpty ? nil : still
        }
    }
}
