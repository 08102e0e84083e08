/// Reads a SQLite WAL file the way SQLite's recovery does, and reports what
/// that recovery would silently drop.
///
/// SQLite trusts a WAL frame only while the running checksum chain from the
/// header holds; at the first frame that breaks it, recovery stops and every
/// later commit is ignored without an error. A torn write at the end of the
/// file breaks only the last commit, and SQLite dropping that one is
/// expected (it was never completely on disk). Damage in the middle looks
/// different: after the break there are still whole frames carrying this
/// WAL's salts, and some of them end a commit. Counting those commit frames
/// tells the two apart without any bookkeeping on the commit path.
///
/// Format (https://sqlite.org/fileformat2.html#walformat): a 32-byte header
/// (magic, version, page size, checkpoint sequence, salt-1, salt-2,
/// checksum), then frames of a 24-byte header (page number, database size
/// after commit or 0, salt-1, salt-2, checksum) and one page.
struct WALScan: Sendable {
    /// An entry row found in a frame's page: sequence number and session.
    struct Row: Sendable, Hashable {
        let seq: Int64
        let session: String
    }

    /// File size in bytes.
    let bytes: Int
    /// The header is intact (magic, version, checksum).
    let headerValid: Bool
    /// Frames SQLite's recovery accepts (up to and including the last valid commit frame).
    let validFrames: Int
    /// Commit frames among them.
    let validCommits: Int
    /// Byte offset where the accepted part ends (the start of the first dropped frame).
    let breakOffset: Int
    /// Commit frames of this WAL (same salts) that lie after the break: SQLite drops them.
    let droppedCommits: Int
    /// Bytes of this WAL (same salts) follow the last accepted commit: a
    /// transaction was being written (or was damaged) there.
    let tornTail: Bool
    /// Entry rows seen in frames recovery drops (dropped commits, the torn
    /// tail): inputs that may be lost.
    let droppedRows: Set<Row>
    /// Entry rows seen in any frame of this WAL, accepted or not.
    let allRows: Set<Row>

    /// Scans the file; nil when it does not exist or cannot be read.
    static func scan(path: String) -> WALScan? {
        guard let data = FileIO.read(path) else { return nil }
        return WALScan(data)
    }

    init(_ data: [UInt8]) {
        bytes = data.count
        var valid = false
        var pageSize = 0
        var bigEndian = false
        var salt1: UInt32 = 0, salt2: UInt32 = 0
        var s0: UInt32 = 0, s1: UInt32 = 0
        if data.count >= 32 {
            let magic = WALScan.be32(data, 0)
            bigEndian = magic == 0x377f_0683
            let size = Int(WALScan.be32(data, 8))
            salt1 = WALScan.be32(data, 16)
            salt2 = WALScan.be32(data, 20)
            if magic & 0xFFFF_FFFE == 0x377f_0682, WALScan.be32(data, 4) == 3_007_000,
               size >= 512, size <= 65536, size & (size - 1) == 0 {
                (s0, s1) = WALScan.checksum(data, 0, 24, bigEndian: bigEndian, 0, 0)
                valid = s0 == WALScan.be32(data, 24) && s1 == WALScan.be32(data, 28)
                pageSize = size
            }
        }
        headerValid = valid
        guard valid else {
            validFrames = 0; validCommits = 0; breakOffset = 0; droppedCommits = 0
            droppedRows = []; allRows = []; tornTail = false
            return
        }
        let frameSize = 24 + pageSize
        var offset = 32
        var accepted = 0, acceptedCommits = 0, acceptedEnd = 32
        var chainBroken = false
        var frameIndex = 0
        var lastCommitIndex = -1
        var rowsByFrame: [(index: Int, rows: [Row])] = []
        var commitsAfterBreak = 0
        var breakIndex = Int.max
        while offset + frameSize <= data.count {
            let sameSalts = WALScan.be32(data, offset + 8) == salt1 && WALScan.be32(data, offset + 12) == salt2
            let isCommit = WALScan.be32(data, offset + 4) != 0
            if !chainBroken {
                let (c0, c1) = WALScan.checksum(data, offset, 8, bigEndian: bigEndian, s0, s1)
                let (d0, d1) = WALScan.checksum(data, offset + 24, pageSize, bigEndian: bigEndian, c0, c1)
                if sameSalts && d0 == WALScan.be32(data, offset + 16) && d1 == WALScan.be32(data, offset + 20) {
                    (s0, s1) = (d0, d1)
                    if isCommit {
                        lastCommitIndex = frameIndex
                        acceptedCommits += 1
                        accepted = frameIndex + 1
                        acceptedEnd = offset + frameSize
                    }
                } else {
                    chainBroken = true
                    breakIndex = frameIndex
                }
            }
            if sameSalts {
                if chainBroken && isCommit { commitsAfterBreak += 1 }
                let page = Array(data[(offset + 24)..<(offset + frameSize)])
                let rows = WALScan.entryRows(page: page, pageNumber: WALScan.be32(data, offset))
                if !rows.isEmpty { rowsByFrame.append((frameIndex, rows)) }
            }
            // Other salts: a frame of an older generation of the WAL, or one
            // whose header the damage hit; either way scanning goes on, since
            // frames of this generation may follow a damaged header.
            offset += frameSize
            frameIndex += 1
        }
        _ = breakIndex
        validFrames = accepted
        validCommits = acceptedCommits
        breakOffset = acceptedEnd
        droppedCommits = commitsAfterBreak
        tornTail = acceptedEnd + 16 <= data.count
            && WALScan.be32(data, acceptedEnd + 8) == salt1 && WALScan.be32(data, acceptedEnd + 12) == salt2
        var all = Set<Row>(), dropped = Set<Row>()
        for (index, rows) in rowsByFrame {
            all.formUnion(rows)
            if index > lastCommitIndex { dropped.formUnion(rows) }
        }
        allRows = all
        droppedRows = dropped
    }

    // MARK: Format helpers

    static func be32(_ data: [UInt8], _ at: Int) -> UInt32 {
        UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8 | UInt32(data[at + 3])
    }

    /// SQLite's WAL checksum over `count` bytes (a multiple of 8) from `start`.
    static func checksum(_ data: [UInt8], _ start: Int, _ count: Int, bigEndian: Bool,
                         _ initial0: UInt32, _ initial1: UInt32) -> (UInt32, UInt32) {
        var s0 = initial0, s1 = initial1
        var i = start
        let end = start + count
        while i < end {
            let x0: UInt32, x1: UInt32
            if bigEndian {
                x0 = be32(data, i); x1 = be32(data, i + 4)
            } else {
                x0 = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
                x1 = UInt32(data[i + 4]) | UInt32(data[i + 5]) << 8 | UInt32(data[i + 6]) << 16 | UInt32(data[i + 7]) << 24
            }
            s0 = s0 &+ x0 &+ s1
            s1 = s1 &+ x1 &+ s0
            i += 8
        }
        return (s0, s1)
    }

    /// Rows of the `entries` table in one B-tree page: a table leaf page
    /// (type 13) whose records are (NULL rowid alias, text session, text
    /// epoch, blob payload). Other tables of the journal are WITHOUT ROWID
    /// (index pages) or have other shapes, so nothing else matches.
    static func entryRows(page: [UInt8], pageNumber: UInt32) -> [Row] {
        let header = pageNumber == 1 ? 100 : 0
        guard page.count > header + 8, page[header] == 13 else { return [] }
        let cells = Int(page[header + 3]) << 8 | Int(page[header + 4])
        var rows: [Row] = []
        for cell in 0..<cells {
            let pointerAt = header + 8 + 2 * cell
            guard pointerAt + 1 < page.count else { break }
            var at = Int(page[pointerAt]) << 8 | Int(page[pointerAt + 1])
            guard at < page.count, varint(page, &at) != nil, let rowid = varint(page, &at) else { continue }
            let recordStart = at
            guard let headerSize = varint(page, &at) else { continue }
            var types: [Int64] = []
            while at < recordStart + Int(headerSize), at < page.count, let type = varint(page, &at) { types.append(type) }
            guard types.count == 4, types[0] == 0, types[1] >= 13, types[1] % 2 == 1,
                  types[2] >= 13, types[2] % 2 == 1, types[3] >= 12, types[3] % 2 == 0 else { continue }
            let sessionStart = recordStart + Int(headerSize)
            let sessionLength = Int((types[1] - 13) / 2)
            guard sessionLength >= 1, sessionLength <= 512, sessionStart + sessionLength <= page.count else { continue }
            let session = String(decoding: page[sessionStart..<(sessionStart + sessionLength)], as: UTF8.self)
            rows.append(Row(seq: rowid, session: session))
        }
        return rows
    }

    /// A SQLite varint (1-9 bytes, big-endian, 7 bits per byte, 8 in the ninth).
    static func varint(_ data: [UInt8], _ at: inout Int) -> Int64? {
        var value: UInt64 = 0
        for index in 0..<9 {
            guard at < data.count else { return nil }
            let byte = data[at]
            at += 1
            if index == 8 { return Int64(bitPattern: value << 8 | UInt64(byte)) }
            value = value << 7 | UInt64(byte & 0x7F)
            if byte & 0x80 == 0 { return Int64(bitPattern: value) }
        }
        return nil
    }
}
