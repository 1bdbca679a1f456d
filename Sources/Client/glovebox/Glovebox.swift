import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Glovebox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glovebox",
        abstract: "Run programs in gloveboxd's sandboxes and read their records.",
        subcommands: [RunCommand.self, ShowCommand.self, PsCommand.self, LogsCommand.self, KillCommand.self, AuditCommand.self, PolicyCommand.self])

    /// `glovebox run` is what agents call thousands of times: a command line the fast path understands
    /// goes straight to the daemon; every other one, and every other command, goes to ArgumentParser.
    static func main() {
        if let invocation = RunFastPath.parse(Array(CommandLine.arguments.dropFirst())) {
            do {
                try invocation.execute()
            } catch let code as ExitCode {
                Glibc.exit(code.rawValue)
            } catch {
                FileHandleStderr.print("glovebox: \(error)")
                Glibc.exit(125)
            }
            Glibc.exit(0)
        }
        main(nil as [String]?)
    }
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
