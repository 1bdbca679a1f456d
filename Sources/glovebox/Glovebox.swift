import ArgumentParser

@main
struct Glovebox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glovebox",
        abstract: "Run programs in gloveboxd's sandboxes and read their records.",
        subcommands: [RunCommand.self, ShowCommand.self, PsCommand.self, LogsCommand.self, KillCommand.self, AuditCommand.self, PolicyCommand.self])
}

struct SocketOption: ParsableArguments {
    @Option(name: .long, help: "gloveboxd's socket (default: $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).")
    var socket: String?
}
