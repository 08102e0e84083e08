import CLibEV

/// The one libev loop the service thread runs. libwebsockets is handed it as
/// a foreign loop, so the hub's own HTTP connections and libwebsockets'
/// WebSockets are served by the same `epoll` and the same thread.
final class EventLoop {
    let loop: OpaquePointer

    init?() {
        guard let loop = CLibEV_newLoop() else { return nil }
        self.loop = loop
    }

    deinit { ev_loop_destroy(loop) }

    /// Serves events until `stop()`.
    func run() { ev_run(loop, 0) }

    /// Makes `run()` return after the current callback.
    func stop() { ev_break(loop, CLibEV_BREAK_ALL) }
}

/// Runs `action` each time the loop has handled every event of a turn and
/// is about to wait for the next (a libev prepare watcher).
final class TurnEndWatcher {
    private let watcher: UnsafeMutablePointer<ev_prepare>
    private let loop: EventLoop
    fileprivate let action: () -> Void

    init(loop: EventLoop, action: @escaping () -> Void) {
        self.loop = loop
        self.action = action
        watcher = .allocate(capacity: 1)
        watcher.initialize(to: ev_prepare())
        CLibEV_prepareStart(loop.loop, watcher, prepareCallback, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        CLibEV_prepareStop(loop.loop, watcher)
        watcher.deallocate()
    }
}

private func prepareCallback(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_prepare>?, _ revents: Int32) {
    guard let watcher, let data = CLibEV_prepareData(watcher) else { return }
    Unmanaged<TurnEndWatcher>.fromOpaque(data).takeUnretainedValue().action()
}

/// Something that owns a file descriptor the loop watches. A base class, not
/// a protocol, so the C callback reaches it without a dynamic cast.
class IOHandler {
    /// Called on the service thread when the descriptor is ready.
    func ioReady(readable: Bool, writable: Bool) {}
}

/// One libev I/O watcher: which of read and write readiness its owner wants.
/// Changing the wanted events restarts the watcher only when they differ.
final class IOWatcher {
    private let watcher: UnsafeMutablePointer<ev_io>
    private let loop: EventLoop
    let fd: Int32
    private(set) var wantsRead = false
    private(set) var wantsWrite = false

    init(fd: Int32, loop: EventLoop, handler: IOHandler) {
        self.fd = fd
        self.loop = loop
        watcher = .allocate(capacity: 1)
        watcher.initialize(to: ev_io())
        CLibEV_ioInit(watcher, ioCallback, fd, 0, Unmanaged.passUnretained(handler).toOpaque())
    }

    deinit {
        ev_io_stop(loop.loop, watcher)
        watcher.deallocate()
    }

    /// Sets the readiness the owner waits for.
    func want(read: Bool, write: Bool) {
        guard read != wantsRead || write != wantsWrite else { return }
        wantsRead = read
        wantsWrite = write
        ev_io_stop(loop.loop, watcher)
        let events = (read ? CLibEV_READ : 0) | (write ? CLibEV_WRITE : 0)
        guard events != 0 else { return }
        CLibEV_ioSet(watcher, fd, Int32(events))
        ev_io_start(loop.loop, watcher)
    }

    /// Stops watching; the descriptor is left open.
    func stop() { want(read: false, write: false) }
}

private func ioCallback(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_io>?, _ revents: Int32) {
    guard let watcher, let data = CLibEV_data(watcher) else { return }
    let handler = Unmanaged<IOHandler>.fromOpaque(data).takeUnretainedValue()
    handler.ioReady(readable: revents & Int32(CLibEV_READ) != 0, writable: revents & Int32(CLibEV_WRITE) != 0)
}
