import ArgumentParser
import Hub
import Logging
import Store

/// The check `serve` runs before it opens the journal: the hub never starts
/// on a journal that holds less than it acknowledged (docs/durability.md,
/// "Journal integrity").
enum JournalGuard {
    /// Refuses the start with exit status 78 on damage, or with `recover`
    /// starts over from what is readable and logs exactly what was lost.
    static func check(_ config: HubConfig, recover: Bool, logger: Logger) throws {
        guard config.store.kind == "sqlite" else { return }
        let (path, key) = try JournalSettings.resolve(config, logger: logger)
        let report = JournalInspection.inspect(path: path, key: key)
        for note in report.notes { logger.warning("journal: \(note)") }
        guard !report.isHealthy else { return }
        guard recover else {
            for problem in report.problems { logger.critical("journal damaged: \(problem)") }
            logger.critical("refusing to start on a damaged journal at \(path): it would serve less than was acknowledged. Run `switchboard journal verify` for a report; restore a backup (`switchboard journal restore --from FILE`), or start with `switchboard serve --recover` to continue from what is readable (OPERATIONS.md, \"Journal damage\")")
            throw ExitCode(78)
        }
        let outcome: JournalRecovery.Outcome
        do {
            outcome = try JournalRecovery.recover(path: path, key: key, report: report)
        } catch {
            logger.critical("journal recovery failed: \(error.message)")
            throw ExitCode(78)
        }
        for line in outcome.lines { logger.error("journal recovery: \(line)") }
        logger.error("journal recovery: done; \(outcome.lostInputs) inputs of \(outcome.lostSessions.count) named sessions lost; starting from what was readable")
    }
}

/// `store.path` and the parsed `store.encryptionKey` of a loaded config.
enum JournalSettings {
    static func resolve(_ config: HubConfig, logger: Logger? = nil) throws -> (path: String, key: [UInt8]?) {
        let path = config.store.path ?? config.dataDir + "/switchboard.db"
        do {
            let key = try config.store.encryptionKey.map { text throws(StoreError) in try SQLiteJournal.parseKey(text) }
            return (path, key)
        } catch {
            logger?.critical("\(error.message)")
            throw ExitCode(78)
        }
    }
}
