import ArgumentParser
import Hub
import Store

/// `switchboard journal verify | backup | restore`: the operator's tools for
/// the SQLite journal (OPERATIONS.md, "Journal damage" and "Backups").
struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Check, back up and restore the journal.",
        subcommands: [Verify.self, Backup.self, Restore.self])

    /// The options every journal command shares: where the config and data are.
    struct Location: ParsableArguments {
        @Option(help: "Config file (default Config/switchboard.json when present).") var config: String?
        @Option(help: "Data directory (overrides dataDir); the journal is <data dir>/switchboard.db unless store.path says otherwise.")
        var dataDir: String?

        func settings() throws -> (path: String, key: [UInt8]?) {
            var overrides: [String: String] = [:]
            if let dataDir { overrides["dataDir"] = dataDir }
            let config: HubConfig
            do {
                config = try ConfigLoader.load(fileBytes: Serve.configBytes(self.config), environment: Serve.environment(),
                                               overrides: overrides)
            } catch let error as ConfigError {
                print("error: \(error.description)")
                throw ExitCode(78)
            }
            guard config.store.kind == "sqlite" else {
                print("error: store.kind is \(config.store.kind); only the sqlite journal has files to check")
                throw ExitCode(78)
            }
            return try JournalSettings.resolve(config)
        }
    }

    /// `journal verify`: exit 0 when healthy, 65 (EX_DATAERR) on damage.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the journal: marker, WAL, SQLite integrity_check, sequence continuity, every row decodes. Exit 0 healthy, 65 damaged.")
        @OptionGroup var location: Location

        func run() throws {
            let (path, key) = try location.settings()
            let report = JournalInspection.inspect(path: path, key: key, full: true)
            print("journal \(path)")
            if report.fresh {
                print("no journal yet (nothing to check)")
                return
            }
            print("entries \(report.entries), snapshots \(report.snapshots), sessions \(report.sessions), last seq \(report.lastSeq), marker vouches for \(report.markerSeq)")
            for note in report.notes { print("note: \(note)") }
            for problem in report.problems { print("DAMAGE: \(problem)") }
            if report.isHealthy {
                print("ok")
            } else {
                print("damaged: \(report.problems.count) problem(s); see OPERATIONS.md, \"Journal damage\"")
                throw ExitCode(65)
            }
        }
    }

    /// `journal backup --to FILE`: online, while the hub runs.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the journal to FILE with SQLite's online backup API (safe while the hub runs).")
        @OptionGroup var location: Location
        @Option(help: "Where to write the backup (replaced atomically).") var to: String

        func run() throws {
            let (path, key) = try location.settings()
            do {
                let result = try JournalBackup.backup(path: path, to: to, key: key)
                print("backed up \(path) to \(to): \(result.entries) entries of \(result.sessions) sessions, last seq \(result.lastSeq), \(result.bytes) bytes")
            } catch {
                print("error: \(error.message)")
                throw ExitCode(1)
            }
        }
    }

    /// `journal restore --from FILE`: the hub must be stopped.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the journal with a backup (stop the hub first); the current files are moved aside, not deleted.")
        @OptionGroup var location: Location
        @Option(help: "A file written by `switchboard journal backup`.") var from: String

        func run() throws {
            let (path, key) = try location.settings()
            do {
                let (aside, report) = try JournalBackup.restore(from: from, to: path, key: key)
                if let aside { print("moved the previous journal files to \(aside)") }
                print("restored \(from) to \(path): \(report.entries) entries of \(report.sessions) sessions, last seq \(report.lastSeq)")
            } catch {
                print("error: \(error.message)")
                throw ExitCode(1)
            }
        }
    }
}
