/// What a check of the journal's files found.
///
/// `problems` are damage: the hub refuses to start on any of them (exit 78)
/// unless `serve --recover` is given, and `journal verify` fails. `notes` are
/// worth saying but expected (the one torn last commit SQLite drops).
public struct JournalReport: Sendable {
    /// Damage, one line each, for an operator.
    public var problems: [String] = []
    /// Expected oddities (a torn last commit), one line each.
    public var notes: [String] = []
    /// Rows readable in the journal (entries, snapshots), sessions among them.
    public var entries = 0
    public var snapshots = 0
    public var sessions = 0
    /// Highest sequence number the readable journal holds.
    public var lastSeq: Int64 = 0
    /// What the marker vouched for (0 without a marker).
    public var markerSeq: Int64 = 0
    /// There was no journal at all (first start).
    public var fresh = false
    /// Entry rows that will not be served: found in damaged or dropped parts
    /// of the WAL, or present but undecodable. (seq, session, why)
    public var lostRows: [(seq: Int64, session: String, why: String)] = []
    /// The files may not be opened with SQLite (its recovery would throw
    /// away what the damage left: an empty database file makes it delete the WAL).
    var filesUnsafeToOpen = false

    /// True when nothing is wrong.
    public var isHealthy: Bool { problems.isEmpty }
}

/// Checks a journal against its marker and itself, without changing it.
///
/// The checks, in order (docs/durability.md, "Journal integrity"):
/// 1. Files, before SQLite opens them: the marker's checksum; a database
///    missing or empty where the marker says one was; a WAL missing though
///    the marker says the hub did not close cleanly; a WAL whose header is
///    damaged, or with more than the one torn last commit beyond the point
///    where SQLite's recovery would stop (`WALScan`).
/// 2. Inside, read-only: `quick_check` (or `integrity_check` with `full`),
///    schema and key, the marker's identity, the sequence against the
///    marker (short by more than the last commit is damage), continuity
///    (`count(entries) + compacted == lastSeq`), and every entry and
///    snapshot decrypted and decoded.
public enum JournalInspection {
    /// - Parameters:
    ///   - path: `store.path`.
    ///   - key: the parsed `store.encryptionKey`, or nil.
    ///   - full: `integrity_check` instead of the faster `quick_check`.
    public static func inspect(path: String, key: [UInt8]?, full: Bool = false) -> JournalReport {
        var report = JournalReport()
        let marker: JournalMarker?
        switch JournalMarker.read(databasePath: path) {
        case .missing: marker = nil
        case .found(let found): marker = found
        case .unreadable(let why):
            marker = nil
            report.problems.append("the journal marker is damaged: \(why)")
        }
        report.markerSeq = marker?.lastSeq ?? 0
        let databaseSize = FileIO.size(path)
        let walPath = path + "-wal"
        let walSize = FileIO.size(walPath)
        let scan = (walSize ?? 0) > 0 ? WALScan.scan(path: walPath) : nil
        let walHasFrames = scan.map { $0.headerValid ? $0.allRows.count > 0 || $0.validFrames > 0 : $0.bytes > 32 } ?? false

        // 1. Files.
        if databaseSize == nil || databaseSize == 0 {
            let what = databaseSize == nil ? "is missing" : "is empty (0 bytes)"
            if let marker {
                report.problems.append("the journal file \(path) \(what), but its marker says it held \(marker.lastSeq) inputs")
            } else if walHasFrames {
                report.problems.append("the journal file \(path) \(what), but its WAL holds commits")
            } else if report.problems.isEmpty {
                report.fresh = true
                return report
            }
            report.filesUnsafeToOpen = true
            if let scan {
                // Everything the WAL holds is lost with its database.
                for row in scan.allRows.sorted(by: { $0.seq < $1.seq }) {
                    report.lostRows.append((row.seq, row.session, "in the WAL of the missing database"))
                }
            }
            return report
        }
        if walSize == nil, let marker, marker.state == .open {
            report.problems.append("the WAL \(walPath) is missing, but the hub did not close the journal cleanly: the newest commits were in it (the marker vouches for \(marker.lastSeq) inputs)")
        }
        if let scan {
            if !scan.headerValid && scan.bytes > 32 {
                report.problems.append("the WAL header is damaged: SQLite would ignore all \(scan.bytes) bytes of the WAL")
                report.filesUnsafeToOpen = true
                for row in scan.allRows { report.lostRows.append((row.seq, row.session, "in the damaged WAL")) }
            } else if scan.droppedCommits >= 2 {
                report.problems.append("the WAL is damaged at byte \(scan.breakOffset): \(scan.droppedCommits) commits after that point would be dropped (more than the one torn last commit a crash can leave)")
            } else if scan.tornTail {
                report.notes.append("the last commit in the WAL is torn (crash during its write); SQLite drops it")
            }
        }

        // 2. Inside.
        let reader: JournalReader
        do {
            reader = try JournalReader(path: path)
        } catch {
            report.problems.append(error.message)
            return report
        }
        report.problems += reader.integrityProblems(full: full).map { "SQLite \(full ? "integrity_check" : "quick_check"): \($0)" }
        do {
            try SQLiteJournal.check(reader.db, path: path, key: key)
        } catch {
            report.problems.append(error.message)
            return report
        }
        var sessions = Set<String>()
        var readable = Set<Int64>()
        do {
            let journalId = try reader.metaText("journalId")
            if let marker, let journalId, marker.journalId != journalId {
                report.problems.append("the journal at \(path) is not the one its marker describes (journalId \(journalId), marker \(marker.journalId)): the file was replaced")
            }
            var undecodable = 0
            do {
                try reader.rows { seq, session, _, payload in
                    report.entries += 1
                    readable.insert(seq)
                    sessions.insert(session)
                    report.lastSeq = max(report.lastSeq, seq)
                    do {
                        _ = try JournalReader.decode(session: session, payload: payload, key: key)
                    } catch {
                        undecodable += 1
                        if undecodable <= 20 {
                            report.problems.append("entry seq \(seq) of session \(session) does not decode: \(error)")
                        }
                        report.lostRows.append((seq, session, "does not decode: \(error)"))
                    }
                }
            } catch {
                report.problems.append("reading the entries stopped after seq \(report.lastSeq): \(error)")
            }
            if undecodable > 20 { report.problems.append("… \(undecodable) entries in all do not decode") }
            do {
                try reader.snapshots { session, epoch, payload in
                    report.snapshots += 1
                    sessions.insert(session)
                    do {
                        try JournalReader.decodeSnapshot(session: session, epoch: epoch, payload: payload, key: key)
                    } catch {
                        report.problems.append("the snapshot of session \(session) does not decode: \(error)")
                    }
                }
            } catch {
                report.problems.append("reading the snapshots failed: \(error)")
            }
            let highWater = try reader.metaInt("seqHighWater") ?? 0
            report.lastSeq = max(report.lastSeq, highWater)
            if let compacted = try reader.metaInt("compacted") {
                let missing = report.lastSeq - compacted - Int64(report.entries)
                if missing > 0 {
                    report.problems.append("\(missing) entries are missing from the sequence (1…\(report.lastSeq) holds \(report.entries) rows, \(compacted) compacted)")
                } else if missing < 0 {
                    report.problems.append("the sequence counters disagree with the rows (\(report.entries) rows + \(compacted) compacted > \(report.lastSeq))")
                }
            }
        } catch {
            report.problems.append(error.message)
        }
        report.sessions = sessions.count
        if let marker {
            if report.lastSeq < marker.prevSeq {
                report.problems.append("the journal is shorter than its marker: it holds inputs up to seq \(report.lastSeq), the marker vouches for \(marker.lastSeq) (\(marker.lastSeq - report.lastSeq) missing)")
            } else if report.lastSeq < marker.lastSeq {
                report.notes.append("the last commit (seq \(report.lastSeq + 1)…\(marker.lastSeq)) is torn; SQLite dropped it")
            }
        }
        if let scan {
            for row in scan.droppedRows where !readable.contains(row.seq) && row.seq > report.lastSeq {
                report.lostRows.append((row.seq, row.session, "in the unreadable part of the WAL"))
            }
        }
        return report
    }
}
