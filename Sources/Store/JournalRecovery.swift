#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `serve --recover`: starts over from what a damaged journal still holds.
///
/// The damaged files are moved aside, untouched, into
/// `<store.path>.damaged-<UTC time>/` (for forensics, or for an expert to
/// salvage more by hand). A scratch copy of them is read with SQLite; every
/// entry and snapshot that reads and decodes is copied, with its sequence
/// number, into a new journal at `store.path`. What is not copied is
/// reported: rows that do not decode, rows seen in the unreadable part of
/// the WAL, and the sequence range the marker vouched for that nothing
/// readable covers.
public enum JournalRecovery {
    /// What recovery did, for the log.
    public struct Outcome: Sendable {
        /// Where the damaged files went.
        public var aside: String?
        /// One line each: what was kept, and exactly what was lost.
        public var lines: [String]
        /// Inputs known lost (by sequence number) and sessions they belonged to.
        public var lostInputs: Int
        public var lostSessions: [String]
    }

    /// - Parameters:
    ///   - report: the inspection that found the damage (`JournalInspection.inspect`).
    public static func recover(path: String, key: [UInt8]?, report: JournalReport) throws(StoreError) -> Outcome {
        var lines = report.problems.map { "damage: \($0)" }
        guard let aside = try moveAside(path: path, suffix: "damaged") else {
            throw StoreError(message: "store.path \(path): nothing to recover")
        }
        lines.append("moved the damaged files to \(aside)")
        let base = FileIO.basename(path)
        var entries: [(seq: Int64, session: String, epoch: String, payload: [UInt8])] = []
        var snapshots: [(session: String, epoch: String, payload: [UInt8])] = []
        var lostRows = report.lostRows
        var readError: String?
        let original = aside + "/" + base
        if !report.filesUnsafeToOpen || (FileIO.size(original) ?? 0) > 0 {
            if (FileIO.size(original) ?? 0) > 0 {
                // A scratch copy: SQLite's recovery may write its -shm and
                // -wal; the set-aside originals stay as found.
                let scratch = aside + "/salvage.db"
                try FileIO.copy(original, to: scratch)
                if !report.filesUnsafeToOpen, FileIO.exists(original + "-wal") {
                    try FileIO.copy(original + "-wal", to: scratch + "-wal")
                }
                defer { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(scratch + suffix) } }
                let reader = try JournalReader(path: scratch)
                do {
                    try reader.rows { seq, session, epoch, payload in
                        do {
                            _ = try JournalReader.decode(session: session, payload: payload, key: key)
                            entries.append((seq, session, epoch, payload))
                        } catch {}
                    }
                } catch {
                    readError = error.message
                }
                do {
                    try reader.snapshots { session, epoch, payload in
                        do {
                            try JournalReader.decodeSnapshot(session: session, epoch: epoch, payload: payload, key: key)
                            snapshots.append((session, epoch, payload))
                        } catch {
                            lostRows.append((0, session, "its snapshot does not decode"))
                        }
                    }
                } catch {
                    readError = (readError.map { $0 + "; " } ?? "") + error.message
                }
            }
        }
        if let readError { lines.append("reading stopped early: \(readError); rows after that point are lost") }
        let kept = Set(entries.map(\.seq))
        let keptLast = entries.map(\.seq).max() ?? 0
        let knownLost = lostRows.filter { $0.seq == 0 || !kept.contains($0.seq) }
        let highWater = max(report.lastSeq, report.markerSeq, knownLost.map(\.seq).max() ?? 0, keptLast)

        let journal = try SQLiteJournal(path: path, encryptionKey: key)
        try journal.importSalvaged(entries: entries, snapshots: snapshots, highWater: highWater)
        journal.close()

        let keptSessions = Set(entries.map(\.session)).union(snapshots.map(\.session))
        lines.append("kept \(entries.count) inputs and \(snapshots.count) snapshots of \(keptSessions.count) sessions (sequence up to \(keptLast))")
        var bySession: [String: [(Int64, String)]] = [:]
        for row in knownLost { bySession[row.session, default: []].append((row.seq, row.why)) }
        for session in bySession.keys.sorted() {
            let rows = bySession[session]!.sorted { $0.0 < $1.0 }
            let seqs = rows.filter { $0.0 > 0 }.map { String($0.0) }
            let whole = keptSessions.contains(session) ? "" : " (the whole session)"
            let why = Set(rows.map(\.1)).sorted().joined(separator: "; ")
            lines.append("lost: session \(session)\(whole): \(seqs.count) inputs\(seqs.isEmpty ? "" : " (seq \(seqs.joined(separator: ", ")))"): \(why)")
        }
        let named = Set(knownLost.map(\.seq))
        let readableEnd = max(report.lastSeq, keptLast)
        let unnamed = report.markerSeq > readableEnd
            ? ((readableEnd + 1)...report.markerSeq).filter { !named.contains($0) && !kept.contains($0) } : []
        if !unnamed.isEmpty {
            lines.append("lost: \(unnamed.count) more inputs (seq \(unnamed.first!)…\(unnamed.last!)) that the marker vouched for; the bytes that held them are gone, so their sessions are unknown")
        }
        if report.problems.contains(where: { $0.contains("WAL") && $0.contains("missing") }) {
            lines.append("lost: also whatever the missing WAL held after the marker's last write (the marker is rewritten at checkpoints, so at most store.checkpointIntervalMs of inputs)")
        }
        let lostCount = knownLost.filter { $0.seq > 0 }.count + unnamed.count
        if lostCount == 0 && bySession.isEmpty { lines.append("lost: no input that the journal or its marker knew of") }
        return Outcome(aside: aside, lines: lines, lostInputs: lostCount, lostSessions: bySession.keys.sorted())
    }

    /// Moves the journal's files (database, `-wal`, `-shm`, marker) into a
    /// new directory `<store.path>.<suffix>-<UTC time>/`; nil when there were none.
    static func moveAside(path: String, suffix: String) throws(StoreError) -> String? {
        let files = ["", "-wal", "-shm", ".marker"].map { path + $0 }.filter(FileIO.exists)
        guard !files.isEmpty else { return nil }
        var dir = "\(path).\(suffix)-\(FileIO.stamp(FileIO.nowMs()))"
        var attempt = 1
        while FileIO.exists(dir) {
            attempt += 1
            dir = "\(path).\(suffix)-\(FileIO.stamp(FileIO.nowMs()))-\(attempt)"
        }
        guard mkdir(dir, 0o700) == 0 else { throw StoreError(message: "cannot create \(dir): errno \(errno)") }
        for file in files {
            _ = try FileIO.moveIfPresent(file, to: dir + "/" + FileIO.basename(file))
        }
        try FileIO.syncDirectory(FileIO.directory(of: path))
        return dir
    }
}
