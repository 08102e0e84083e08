import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket with deadlines, for talking to the real hub.
public final class TestSocket {
    public let fd: Int32
    private var buffer: [UInt8] = []

    public struct Timeout: Error { public init() {} }
    public struct Closed: Error { public init() {} }

    /// - Parameter source: a local address to connect from (e.g. `127.0.0.2`:
    ///   on Linux all of 127/8 is loopback), to appear as another client.
    public init(port: Int, receiveBuffer: Int? = nil, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let receiveBuffer {
            var size = Int32(receiveBuffer)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound != 0 { close(fd); throw Closed() }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(fd); throw Closed() }
    }

    deinit { close(fd) }

    /// Drops the connection without a close frame (a client going away).
    public func shutdownNow() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Half-closes: the peer reads end of stream, this side can still read.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw Closed() }
            offset += n
        }
    }

    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Reads exactly `count` bytes before `deadline`.
    public func read(_ count: Int, deadline: Date) throws -> [UInt8] {
        while buffer.count < count { try fill(deadline: deadline) }
        let out = Array(buffer.prefix(count))
        buffer.removeFirst(count)
        return out
    }

    /// Reads up to and including `delimiter`.
    public func read(until delimiter: [UInt8], deadline: Date) throws -> [UInt8] {
        while true {
            if let range = find(delimiter) {
                let out = Array(buffer[..<range])
                buffer.removeFirst(range)
                return out
            }
            try fill(deadline: deadline)
        }
    }

    /// Everything until the peer closes.
    public func readToEnd(deadline: Date) throws -> [UInt8] {
        do { while true { try fill(deadline: deadline) } } catch is Closed {}
        defer { buffer = [] }
        return buffer
    }

    private func find(_ d: [UInt8]) -> Int? {
        guard buffer.count >= d.count else { return nil }
        for i in 0...(buffer.count - d.count) where buffer[i..<(i + d.count)].elementsEqual(d) { return i + d.count }
        return nil
    }

    private func fill(deadline: Date) throws {
        let remaining = deadline.timeIntervalSinceNow
        if remaining <= 0 { throw Timeout() }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, Int32(remaining * 1000) + 1)
        if ready == 0 { throw Timeout() }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { throw Closed() }
        buffer.append(contentsOf: chunk[0..<n])
    }
}

/// A TCP port nobody listens on right now: bind port 0, read the port back,
/// close. For servers that cannot take port 0 (nginx) and for restarting a
/// hub on the same address.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { throw NoFreePort(errno: errno) }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// `freePort()` could not bind.
public struct NoFreePort: Error, CustomStringConvertible {
    public let errno: Int32
    public var description: String { "cannot bind a free port: errno \(errno)" }
}
