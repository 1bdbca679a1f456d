import ArgumentParser
import GloveboxClient

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a run's record as JSON (your runs; root sees all).")

    @OptionGroup var socket: SocketOption

    @Argument(help: "The run's id.")
    var runID: Int64

    func run() throws {
        do {
            let record = try RunClient.show(socketPath: DaemonConnection.socketPath(socket.socket), runID: runID)
            print(try RecordJSON.encode(record))
        } catch {
            FileHandleStderr.print("glovebox: \(error)")
            throw ExitCode(125)
        }
    }
}
