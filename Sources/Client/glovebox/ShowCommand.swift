import ArgumentParser
import GloveboxClient
import RecordModel
#if canImport(Glibc)
import Glibc
#endif

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a run's record (your runs; root and admins see all).")

    @OptionGroup var socket: SocketOption

    @Flag(help: "The record as JSON (the same object as `glovebox run --record`).")
    var json = false

    @Argument(help: "The run's id.")
    var runID: Int64

    func run() throws {
        let record = try daemonRequest { try DaemonQueries.show(socketPath: DaemonConnection.socketPath(socket.socket), runID: runID) }
        print(json ? try RecordJSON.encode(record) : RecordText.describe(record))
    }
}

struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps", abstract: "List runs in flight (your own; root and admins see everyone's).")

    @OptionGroup var socket: SocketOption

    @Flag(help: "Also finished and refused runs, newest first.")
    var all = false

    @Option(help: "At most this many runs.")
    var limit = 50

    @Flag(help: "JSON: an array of run records.")
    var json = false

    func run() throws {
        let runs = try daemonRequest { try DaemonQueries.ps(socketPath: DaemonConnection.socketPath(socket.socket), all: all, limit: limit) }
        if json {
            print("[" + (try runs.map { try RecordJSON.encode($0) }).joined(separator: ",\n") + "]")
        } else if runs.isEmpty {
            print(all ? "no runs" : "no runs in flight")
        } else {
            print(RecordText.table(runs))
        }
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill", abstract: "End a run in flight (yours; root and admins may end any). It is recorded as cancelled.")

    @OptionGroup var socket: SocketOption

    @Argument(help: "The run's id.")
    var runID: Int64

    func run() throws {
        print(try daemonRequest { try DaemonQueries.kill(socketPath: DaemonConnection.socketPath(socket.socket), runID: runID) })
    }
}

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print a run's stdout and stderr as kept by gloveboxd.",
        discussion: "With --follow, keep printing until the run ends (attaching again to a run whose client went away); then exit with the status `glovebox run` would have.")

    @OptionGroup var socket: SocketOption

    @Flag(name: .shortAndLong, help: "Wait for more output until the run ends.")
    var follow = false

    @Argument(help: "The run's id.")
    var runID: Int64

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let record = try daemonRequest { try DaemonQueries.logs(socketPath: DaemonConnection.socketPath(socket.socket), runID: runID, follow: follow) }
        if follow, let record { throw ExitCode(RunClient.exitStatus(for: record)) }
    }
}
