#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The listening socket. The hub accepts connections itself and reads their
/// HTTP/1.1 (`HTTPConnection`); only WebSocket upgrades are handed to
/// libwebsockets, together with the bytes already read.
final class Listener: IOHandler {
    let fd: Int32
    /// The address actually bound, for the `listening on` line.
    let boundHost: String
    let port: Int
    private var watcher: IOWatcher!
    private let accepted: (Int32, String) -> Void
    /// Set while accepting is paused because the process is out of descriptors.
    private(set) var pausedUntil: Int64?

    /// Binds and listens on `host:port` (port 0 picks a free one).
    /// - Throws: `StartError` saying what went wrong in words an operator can act on.
    init(host: String, port: Int, loop: EventLoop, accepted: @escaping (Int32, String) -> Void) throws(StartError) {
        self.accepted = accepted
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        let node = host.isEmpty || host == "0.0.0.0" ? "0.0.0.0" : host
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(node, String(port), &hints, &list)
        guard rc == 0, let info = list else {
            throw StartError(message: "cannot listen on \(host):\(port): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(message: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if info.pointee.ai_family == AF_INET6 {
            // "::" serves IPv4 too, as operators expect from a wildcard.
            var zero: Int32 = 0
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let code = errno
            close(fd)
            let shown = node.contains(":") ? "[\(node)]:\(port)" : "\(node):\(port)"
            switch code {
            case EADDRINUSE: throw StartError(message: "address \(shown) already in use (is another hub running?)")
            case EACCES: throw StartError(message: "cannot bind \(shown): permission denied (ports below 1024 need privileges)")
            case EADDRNOTAVAIL: throw StartError(message: "cannot bind \(shown): no such local address")
            default: throw StartError(message: "cannot bind \(shown): \(String(cString: strerror(code)))")
            }
        }
        guard listen(fd, SOMAXCONN) == 0 else {
            let code = errno
            close(fd)
            throw StartError(message: "cannot listen: \(String(cString: strerror(code)))")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Listener.port(of: address)
        self.boundHost = node
        super.init()
        watcher = IOWatcher(fd: fd, loop: loop, handler: self)
        watcher.want(read: true, write: false)
    }

    deinit { close(fd) }

    override func ioReady(readable: Bool, writable: Bool) {
        // Bounded per turn so a connection storm cannot starve the sockets already open.
        for _ in 0..<64 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(fd, $0, &length)
                }
            }
            if client < 0 {
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    // Level-triggered readiness would spin on a full descriptor
                    // table: pause accepting; `resumeIfDue` restarts it.
                    watcher.stop()
                    pausedUntil = nowMs() + 100
                }
                return
            }
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            accepted(client, Listener.host(of: address))
        }
    }

    /// Restarts accepting after a pause for lack of descriptors.
    func resumeIfDue(now: Int64) {
        guard let until = pausedUntil, now >= until else { return }
        pausedUntil = nil
        watcher.want(read: true, write: false)
    }

    /// Stops accepting (the socket stays bound until the listener goes).
    func stop() { watcher.stop() }

    private func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static func port(of address: sockaddr_storage) -> Int {
        var copy = address
        return withUnsafePointer(to: &copy) { p in
            if address.ss_family == sa_family_t(AF_INET6) {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    /// The numeric host of a peer address (IPv4-mapped IPv6 shown as IPv4).
    static func host(of address: sockaddr_storage) -> String {
        var copy = address
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &copy) { p -> String in
            if address.ss_family == sa_family_t(AF_INET6) {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { six in
                    var addr = six.pointee.sin6_addr
                    guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return "" }
                    let text = String(cString: buffer)
                    return text.hasPrefix("::ffff:") && text.contains(".") ? String(text.dropFirst(7)) : text
                }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { four in
                var addr = four.pointee.sin_addr
                guard inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count)) != nil else { return "" }
                return String(cString: buffer)
            }
        }
    }
}
