#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CallState
import JSONCodec

/// What the hub knows it should find in its journal: kept in a small file
/// beside the database (`<store.path>.marker`), so that damage which takes
/// the database or its WAL away cannot take this knowledge with it.
///
/// The file is one JSON line and one `crc32:<hex>` line over it (CRC-32 in
/// Swift, not OpenSSL: the marker is also written from `deinit` at process
/// exit, after OpenSSL's exit handlers ran). It is
/// written to a temporary file, fsync'd, renamed over the old one, and the
/// directory is fsync'd: a crash leaves the old marker or the new one, and
/// a torn or edited file fails its checksum instead of vouching for less.
///
/// `lastSeq` is a lower bound: every input up to it was committed when the
/// marker was written. It is rewritten off the commit path (at open, after
/// background checkpoints, at close), so commits since the last write are
/// vouched for by other means (see docs/durability.md, "Journal integrity").
public struct JournalMarker: Sendable, Equatable {
    /// How the hub left the journal.
    public enum State: String, Sendable {
        /// The hub has (or had, before a crash) the journal open: its WAL may
        /// hold the newest commits and must exist.
        case open
        /// Closed after a complete checkpoint: the database file holds everything.
        case clean
    }

    /// The journal's identity (`meta.journalId`, random, set at creation).
    public var journalId: String
    /// Every input up to this sequence number was committed.
    public var lastSeq: Int64
    /// The sequence number before the commit that brought `lastSeq`: a torn
    /// last commit, which SQLite legitimately drops, leaves at least this many.
    public var prevSeq: Int64
    public var state: State
    /// Wall-clock time of the write, ms since the epoch.
    public var writtenAt: Int64

    public init(journalId: String, lastSeq: Int64, prevSeq: Int64, state: State, writtenAt: Int64) {
        self.journalId = journalId
        self.lastSeq = lastSeq
        self.prevSeq = prevSeq
        self.state = state
        self.writtenAt = writtenAt
    }

    /// The marker file of the journal at `databasePath`.
    public static func path(for databasePath: String) -> String { databasePath + ".marker" }

    /// What reading a marker found.
    public enum ReadResult: Sendable, Equatable {
        case missing
        /// Present but not a marker this build wrote (checksum, format): the reason.
        case unreadable(String)
        case found(JournalMarker)
    }

    /// Reads and checks the marker of the journal at `databasePath`.
    public static func read(databasePath: String) -> ReadResult {
        let file = path(for: databasePath)
        guard let bytes = FileIO.read(file) else {
            return access(file, F_OK) == 0 ? .unreadable("cannot read \(file)") : .missing
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count >= 2 else { return .unreadable("\(file) is truncated") }
        let body = Array(lines[0])
        let expected = "crc32:" + FileIO.crc32Hex(body)
        guard String(decoding: lines[1], as: UTF8.self) == expected else {
            return .unreadable("\(file) fails its checksum (torn or edited)")
        }
        guard let json = try? JSONCodec.parse(body), let object = json.objectValue,
              let id = object["journalId"]?.stringValue, let last = object["lastSeq"]?.intValue,
              let prev = object["prevSeq"]?.intValue,
              let state = object["state"]?.stringValue.flatMap(State.init(rawValue:)),
              let at = object["writtenAt"]?.intValue else {
            return .unreadable("\(file) is not a journal marker")
        }
        return .found(JournalMarker(journalId: id, lastSeq: last, prevSeq: prev, state: state, writtenAt: at))
    }

    /// Writes the marker atomically and durably beside `databasePath`.
    public func write(databasePath: String) throws(StoreError) {
        var body: [UInt8] = []
        JSONCodec.write(.object([
            "journalId": .string(journalId), "lastSeq": .int(lastSeq), "prevSeq": .int(prevSeq),
            "state": .string(state.rawValue), "v": .int(1), "writtenAt": .int(writtenAt),
        ]), into: &body)
        let file = body + Array("\ncrc32:\(FileIO.crc32Hex(body))\n".utf8)
        try FileIO.replaceDurably(JournalMarker.path(for: databasePath), with: file)
    }
}

/// Small file operations the journal's integrity tooling needs, in POSIX
/// calls (the Store module does not link Foundation).
enum FileIO {
    /// The whole file, or nil when it cannot be opened.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Size in bytes, or nil when the file does not exist.
    static func size(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The directory part of `path` ("." when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// fsync of a directory: makes a rename or unlink in it durable.
    static func syncDirectory(_ dir: String) throws(StoreError) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw StoreError(message: "cannot open directory \(dir): errno \(errno)") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw StoreError(message: "fsync of directory \(dir) failed: errno \(errno)") }
    }

    /// Writes `bytes` to `path` through a temporary file, fsync, rename and
    /// a directory fsync: afterwards the file holds the old content or the
    /// new one, never a mix.
    static func replaceDurably(_ path: String, with bytes: [UInt8]) throws(StoreError) {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreError(message: "cannot create \(temp): errno \(errno)") }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        guard written == bytes.count, synced else {
            unlink(temp)
            throw StoreError(message: "cannot write \(temp): errno \(errno)")
        }
        guard rename(temp, path) == 0 else { throw StoreError(message: "cannot rename \(temp) to \(path): errno \(errno)") }
        try syncDirectory(directory(of: path))
    }

    /// Copies a file byte for byte and fsyncs the copy.
    static func copy(_ from: String, to: String) throws(StoreError) {
        guard let bytes = read(from) else { throw StoreError(message: "cannot read \(from): errno \(errno)") }
        let fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreError(message: "cannot create \(to): errno \(errno)") }
        defer { Glibc.close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw StoreError(message: "cannot write \(to): errno \(errno)") }
    }

    /// Renames `from` into `to` when `from` exists; true when it did.
    static func moveIfPresent(_ from: String, to: String) throws(StoreError) -> Bool {
        guard exists(from) else { return false }
        guard rename(from, to) == 0 else { throw StoreError(message: "cannot move \(from) to \(to): errno \(errno)") }
        return true
    }

    /// CRC-32 (IEEE 802.3, as zlib computes it) as 8 hex digits.
    static func crc32Hex(_ bytes: [UInt8]) -> String {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        let hex = String(~crc, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Wall-clock milliseconds since the epoch.
    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// `20261204-183000` in UTC, for names of set-aside directories.
    static func stamp(_ ms: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))-\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
    }
}
