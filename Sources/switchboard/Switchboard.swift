import ArgumentParser

/// `switchboard`: the hub's command line (PROTOCOL.md §8).
@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Realtime call-state hub: merges provider webhooks, client reports and backend events per call.",
        subcommands: [Serve.self, TokenCommand.self, Simulate.self, JournalCommand.self],
        defaultSubcommand: Serve.self)
}
