import Foundation
import SwitchboardClient
#if canImport(Glibc)
import Glibc
#endif

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// The first element of `stream` matching `predicate`, within `timeout` seconds.
func first<T: Sendable>(_ stream: AsyncStream<T>, within timeout: Double = 10, _ what: String = "a value",
                        where predicate: @escaping @Sendable (T) -> Bool) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            for await value in stream where predicate(value) { return value }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let value = result else { throw TimedOut(what: what + " (stream ended)") }
        return value
    }
}

/// Milliseconds since the epoch, for `ts` / `timestamp` fields.
func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }


/// Wraps a real transport: records every URL and header set asked for, and
/// can hold new connections back until the test opens the gate.
final class RecordingTransport: WebSocketTransport, @unchecked Sendable {  // state only under `lock`
    private let inner: any WebSocketTransport
    private let lock = NSLock()
    private var _urls: [String] = []
    private var _headers: [[String: String]] = []
    private var _gateOpen = true

    init(_ inner: any WebSocketTransport) { self.inner = inner }

    var urls: [String] { lock.withLock { _urls } }
    var headers: [[String: String]] { lock.withLock { _headers } }
    var gateOpen: Bool {
        get { lock.withLock { _gateOpen } }
        set { lock.withLock { _gateOpen = newValue } }
    }

    func connect(url: String, headers: [String: String]) async throws -> any WebSocketConnection {
        while !gateOpen { try await Task.sleep(for: .milliseconds(20)) }
        lock.withLock {
            _urls.append(url)
            _headers.append(headers)
        }
        return try await inner.connect(url: url, headers: headers)
    }
}

/// A transport with no network: each `connect` hands the test a
/// `ScriptedConnection` to push frames and closes into.
final class ScriptedTransport: WebSocketTransport, @unchecked Sendable {  // state only under `lock`
    private let lock = NSLock()
    private var _connections: [ScriptedConnection] = []
    private var _refusal: WebSocketTransportError?

    var connections: [ScriptedConnection] { lock.withLock { _connections } }
    /// When set, every connect fails with it.
    var refusal: WebSocketTransportError? {
        get { lock.withLock { _refusal } }
        set { lock.withLock { _refusal = newValue } }
    }

    func connect(url: String, headers: [String: String]) async throws -> any WebSocketConnection {
        let connection = ScriptedConnection(url: url, headers: headers)
        try lock.withLock {
            if let _refusal { throw _refusal }
            _connections.append(connection)
        }
        return connection
    }

    /// The n-th connection (0-based), once the client has opened it.
    func connection(_ index: Int, within timeout: Double = 5) async throws -> ScriptedConnection {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            let all = connections
            if all.count > index { return all[index] }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimedOut(what: "connection #\(index)")
    }
}

/// One fake WebSocket: the test pushes server frames and closes; what the
/// client sends is recorded.
final class ScriptedConnection: WebSocketConnection, @unchecked Sendable {  // `_sent`, `_closedWith` only under `lock`
    let url: String
    let headers: [String: String]
    private let incoming: AsyncStream<WebSocketMessage>
    private let feed: AsyncStream<WebSocketMessage>.Continuation
    private let lock = NSLock()
    private var _sent: [String] = []
    private var _closedWith: Int?
    private var iterator: AsyncStream<WebSocketMessage>.AsyncIterator?

    init(url: String, headers: [String: String]) {
        self.url = url
        self.headers = headers
        (incoming, feed) = AsyncStream<WebSocketMessage>.makeStream()
        iterator = incoming.makeAsyncIterator()
    }

    var sent: [String] { lock.withLock { _sent } }
    var closedWith: Int? { lock.withLock { _closedWith } }

    /// Sends a frame to the client as the hub would.
    func push(_ text: String) { feed.yield(.text(text)) }
    /// Ends the connection with `code` as the hub would.
    func hubCloses(_ code: Int, _ reason: String = "") {
        feed.yield(.closed(code: code, reason: reason))
        feed.finish()
    }

    func send(_ text: String) async throws { lock.withLock { _sent.append(text) } }

    func receive() async throws -> WebSocketMessage {
        // Only the client's receive loop calls this, never concurrently.
        var it = lock.withLock { iterator }
        let next = await it?.next()
        lock.withLock { iterator = it }
        return next ?? .closed(code: lock.withLock { _closedWith } ?? 1006, reason: "")
    }

    func close(code: Int, reason: String) {
        lock.withLock { _closedWith = _closedWith ?? code }
        feed.yield(.closed(code: code, reason: reason))
        feed.finish()
    }

    /// Waits until the client has sent a message containing `fragment`.
    func waitForSent(containing fragment: String, within timeout: Double = 5) async throws -> String {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if let hit = sent.first(where: { $0.contains(fragment) }) { return hit }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimedOut(what: "a sent message containing \(fragment)")
    }
}

/// A transport whose first `stalls` attempts never answer (a frozen hub that
/// accepted the TCP connection); later ones open a `ScriptedConnection`.
final class StallingTransport: WebSocketTransport, @unchecked Sendable {  // `count` only under `lock`
    private let lock = NSLock()
    private var count = 0
    private let stalls: Int

    init(stalls: Int) { self.stalls = stalls }

    var attempts: Int { lock.withLock { count } }

    func connect(url: String, headers: [String: String]) async throws -> any WebSocketConnection {
        let n = lock.withLock { count += 1; return count }
        if n <= stalls {
            // Like a socket whose 101 never comes: only cancellation ends it.
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            throw CancellationError()
        }
        let connection = ScriptedConnection(url: url, headers: headers)
        connection.push(#"{"type":"snapshot","sessionId":"s","epoch":"e1","version":1,"recovered":false,"call":{"sessionId":"s","callState":"ringing","version":1},"presence":[]}"#)
        return connection
    }
}
