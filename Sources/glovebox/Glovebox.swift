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

/// A request to gloveboxd: a failure is printed as "glovebox: …" and the command exits 125.
func daemonRequest<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        FileHandleStderr.print("glovebox: \(error)")
        throw ExitCode(125)
    }
}
