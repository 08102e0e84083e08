import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One reply of Redis, copied out of hiredis' tree so the C reply can be
/// freed at once.
public indirect enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    /// The reply's text for strings and statuses.
    public var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The elements of an array reply, else empty.
    public var elements: [RedisReply] {
        if case .array(let items) = self { return items }
        return []
    }
}

/// Where a Redis lives: `redis://[:password@]host[:port][/db]`.
public struct RedisURL: Sendable, Equatable {
    public var host: String
    public var port: Int32
    public var db: Int
    public var password: String?

    /// Parses `store.url`; nil when it is not a `redis://` URL.
    public init?(_ text: String) {
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        password = nil
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let secret = auth.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init)
            password = secret?.isEmpty == false ? secret : nil
        }
        var dbText: Substring = "0"
        if let slash = rest.firstIndex(of: "/") {
            dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if dbText.isEmpty { dbText = "0" }
        }
        guard let db = Int(dbText), db >= 0 else { return nil }
        self.db = db
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int32(rest[rest.index(after: colon)...]), port > 0 else { return nil }
            self.port = port
            host = String(rest[..<colon])
        } else {
            port = 6379
            host = String(rest)
        }
        if host.isEmpty { host = "127.0.0.1" }
    }
}

/// One synchronous hiredis connection, used by one thread at a time.
///
/// Every call that fails on the socket closes the connection: the owner
/// reconnects (`RedisLog` does, with backoff) instead of reusing a context
/// hiredis has marked broken.
final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?
    let url: RedisURL

    /// Connects, authenticates and selects the database.
    /// - Parameter timeoutMs: for the connect and every later command (a
    ///   blocking `XREAD` sets its own, longer one).
    init(_ url: RedisURL, timeoutMs: Int) throws(StoreError) {
        self.url = url
        let tv = RedisConnection.timeval(ms: timeoutMs)
        guard let ctx = redisConnectWithTimeout(url.host, url.port, tv) else {
            throw StoreError(message: "redis: cannot allocate a connection")
        }
        if ctx.pointee.err != 0 {
            let reason = RedisConnection.errorText(ctx)
            redisFree(ctx)
            throw StoreError(message: "redis \(url.host):\(url.port): \(reason)")
        }
        context = ctx
        _ = redisSetTimeout(ctx, tv)
        _ = redisEnableKeepAlive(ctx)
        if let password = url.password {
            try expectOK(try command(["AUTH", password]), "AUTH")
        }
        if url.db != 0 {
            try expectOK(try command(["SELECT", String(url.db)]), "SELECT")
        }
    }

    deinit { close() }

    var isOpen: Bool { context != nil }

    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Sets the socket timeout for the following commands.
    func setTimeout(ms: Int) {
        guard let context else { return }
        _ = redisSetTimeout(context, RedisConnection.timeval(ms: ms))
    }

    /// Sends one command and waits for its reply. A Redis error reply is
    /// returned as `.error`; only a broken connection throws.
    func command(_ args: [String]) throws(StoreError) -> RedisReply {
        try command(args.map { Array($0.utf8) })
    }

    /// `command` with binary-safe arguments.
    func command(_ args: [[UInt8]]) throws(StoreError) -> RedisReply {
        try append(args)
        return try readReply()
    }

    /// Queues a command without waiting (pipelining: read the replies with
    /// `readReply`, one per appended command, in order).
    func append(_ args: [[UInt8]]) throws(StoreError) {
        guard let context else { throw StoreError(message: "redis: not connected") }
        let status: Int32 = RedisConnection.withArgv(args) { argc, argv, lengths in
            redisAppendCommandArgv(context, argc, argv, lengths)
        }
        if status != REDIS_OK { throw failure() }
    }

    /// The next reply of a pipelined (or just sent) command.
    func readReply() throws(StoreError) -> RedisReply {
        guard let context else { throw StoreError(message: "redis: not connected") }
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw failure() }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return RedisConnection.copy(reply)
    }

    private func expectOK(_ reply: RedisReply, _ what: String) throws(StoreError) {
        if case .error(let text) = reply {
            close()
            throw StoreError(message: "redis \(what): \(text)")
        }
    }

    private func failure() -> StoreError {
        let reason = context.map(RedisConnection.errorText) ?? "not connected"
        close()
        return StoreError(message: "redis \(url.host):\(url.port): \(reason)")
    }

    private static func errorText(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafePointer(to: ctx.pointee.errstr) {
            $0.withMemoryRebound(to: CChar.self, capacity: 128) { String(cString: $0) }
        }
        return text.isEmpty ? "connection error \(ctx.pointee.err)" : text
    }

    private static func timeval(ms: Int) -> timeval {
        #if canImport(Glibc)
        return Glibc.timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        #else
        return Darwin.timeval(tv_sec: ms / 1000, tv_usec: Int32((ms % 1000) * 1000))
        #endif
    }

    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .string(r.str.map { Array(UnsafeRawBufferPointer(start: $0, count: r.len)) } ?? [])
        case REDIS_REPLY_STATUS:
            return .status(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element[index] { items.append(copy(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    /// Calls `body` with C views of `args` (pointers valid only inside).
    private static func withArgv<T>(_ args: [[UInt8]],
                                    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T) -> T {
        var lengths = args.map(\.count)
        let buffers: [UnsafeMutablePointer<CChar>] = args.map { bytes in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: bytes.count)
                }
            }
            return buffer
        }
        defer { for buffer in buffers { buffer.deallocate() } }
        var argv: [UnsafePointer<CChar>?] = buffers.map { UnsafePointer($0) }
        return argv.withUnsafeMutableBufferPointer { argvBuffer in
            lengths.withUnsafeMutableBufferPointer { lengthBuffer in
                body(Int32(args.count), argvBuffer.baseAddress!, UnsafePointer(lengthBuffer.baseAddress!))
            }
        }
    }
}
