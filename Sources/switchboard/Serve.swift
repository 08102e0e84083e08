import ArgumentParser
import Dispatch
import Hub
import Store
import Logging
import Transport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `switchboard serve [--config PATH] [--port N] [--data-dir DIR]`.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the hub.")

    @Option(help: "JSON config file (default: Config/switchboard.json when it exists).")
    var config: String?

    @Option(help: "Listen port; 0 picks a free one (overrides server.port).")
    var port: Int?

    @Option(help: "Directory for the journal and generated secrets (overrides dataDir).")
    var dataDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    @Flag(help: "Start from what a damaged journal still holds: log what was lost, move the damaged files aside.")
    var recover = false

    func run() throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard")

        var overrides: [String: String] = [:]
        if let port { overrides["server.port"] = String(port) }
        if let dataDir { overrides["dataDir"] = dataDir }
        var hubConfig: HubConfig
        do {
            hubConfig = try ConfigLoader.load(fileBytes: try configBytes(), environment: environment(),
                                              overrides: overrides)
        } catch let error as ConfigError {
            if error.key == "(file)" {
                logger.critical("config file \(config ?? "Config/switchboard.json"): \(error.reason)")
            } else {
                logger.critical("\(error.description)")
            }
            throw ExitCode(78)  // EX_CONFIG
        }
        let generatedSecret: Bool
        do {
            if hubConfig.store.kind != "memory" || hubConfig.auth.hs256Secret == nil {
                try SecretFile.checkDataDir(hubConfig.dataDir)
            }
            generatedSecret = try SecretFile.resolve(&hubConfig)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            logger.critical("\(error)")
            throw ExitCode(73)  // EX_CANTCREAT
        }
        try JournalGuard.check(hubConfig, recover: recover, logger: logger)

        signal(SIGPIPE, SIG_IGN)
        let server: Server
        do { server = try Server(config: hubConfig, logger: logger) } catch {
            logger.critical("invalid config key \(error.key): \(error.message)")
            throw ExitCode(78)
        }
        let bound: Int
        do { bound = try server.start() } catch {
            logger.critical("\(error)")
            throw ExitCode((error as? StartError)?.exitCode ?? 1)
        }
        // The address actually bound; the page is offered on loopback when
        // the hub listens on every interface.
        let boundHost = server.boundHost
        logger.info("listening on http://\(boundHost.contains(":") ? "[\(boundHost)]" : boundHost):\(bound)")
        let shownHost = boundHost == "0.0.0.0" || boundHost == "::" ? "127.0.0.1" : boundHost
        if !generatedSecret {
            logger.info("the dashboard at http://\(shownHost):\(bound)/ takes a token in its URL (#token=…): `switchboard token --role dashboard --sub you`")
        }
        if generatedSecret {
            // Shown once, on the terminal only: the log never carries tokens.
            let token = TokenCommand.mint(config: hubConfig, sub: "operator", sid: nil, role: .dashboard,
                                          ttl: hubConfig.auth.maxTtlSec)
            logger.notice("generated auth.hs256Secret into \(SecretFile.path(hubConfig.dataDir)) (mode 0600)")
            print("dashboard (token shown once): http://\(shownHost):\(bound)/#token=\(token)")
        }

        // Signals arrive on a Dispatch queue, never inside the service loop;
        // the handler only flips a flag and wakes the loop.
        var sources: [DispatchSourceSignal] = []
        // SIGHUP drains too: an unhandled HUP would end the hub without a drain.
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { server.requestShutdown() }
            source.resume()
            sources.append(source)
        }
        server.run()
        _ = sources
    }

    /// The file named by --config, else Config/switchboard.json if present.
    func configBytes() throws -> [UInt8]? {
        try Self.configBytes(config)
    }

    static func configBytes(_ config: String?) throws -> [UInt8]? {
        let path = config ?? "Config/switchboard.json"
        guard let bytes = ConfigLoader.readFile(path) else {
            if config != nil {
                throw ValidationError("cannot read config file \(path)")
            }
            return nil
        }
        return bytes
    }

    func environment() -> [String: String] { Self.environment() }

    static func environment() -> [String: String] {
        var out: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let eq = text.firstIndex(of: "=") {
                out[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            entry += 1
        }
        return out
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
