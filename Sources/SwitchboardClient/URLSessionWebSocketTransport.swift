#if canImport(Darwin)
import Foundation

/// WebSockets over Foundation's `URLSessionWebSocketTask`: the Apple-platform
/// transport (iOS, macOS, watchOS, tvOS, visionOS).
public struct URLSessionWebSocketTransport: WebSocketTransport {
    /// The session tasks are created in.
    public let session: URLSession

    /// - Parameter session: the session to create tasks in (default `.shared`).
    public init(session: URLSession = .shared) {
        self.session = session
    }

    public func connect(url: String, headers: [String: String]) async throws -> any WebSocketConnection {
        let httpURL = url.replacingOccurrences(of: "^http", with: "ws", options: [.regularExpression, .caseInsensitive])
        guard let target = URL(string: httpURL) else {
            throw WebSocketTransportError(message: "not a ws:// or wss:// URL: \(url)")
        }
        var request = URLRequest(url: target)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let task = session.webSocketTask(with: request)
        task.resume()
        // The task has no "opened" callback; a ping answered means the upgrade succeeded.
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                task.sendPing { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                }
            }
        } catch {
            let status = (task.response as? HTTPURLResponse)?.statusCode
            task.cancel()
            throw WebSocketTransportError(httpStatus: status == 101 ? nil : status, message: error.localizedDescription)
        }
        return URLSessionWebSocketConnection(task: task)
    }
}

/// One `URLSessionWebSocketTask`. `@unchecked Sendable`: the task is
/// documented as thread-safe and this wrapper holds no other state.
final class URLSessionWebSocketConnection: WebSocketConnection, @unchecked Sendable {
    let task: URLSessionWebSocketTask

    init(task: URLSessionWebSocketTask) { self.task = task }

    func send(_ text: String) async throws {
        try await task.send(.string(text))
    }

    func receive() async throws -> WebSocketMessage {
        do {
            switch try await task.receive() {
            case .string(let text): return .text(text)
            case .data(let data): return .text(String(decoding: data, as: UTF8.self))
            @unknown default: return .text("")
            }
        } catch {
            // After a close frame the task reports its code; else the TCP link died.
            let reason = task.closeReason.map { String(decoding: $0, as: UTF8.self) } ?? ""
            return .closed(code: task.closeCode == .invalid ? 1006 : task.closeCode.rawValue, reason: reason)
        }
    }

    func close(code: Int, reason: String) {
        task.cancel(with: URLSessionWebSocketTask.CloseCode(rawValue: code) ?? .normalClosure, reason: Data(reason.utf8))
    }
}
#endif
