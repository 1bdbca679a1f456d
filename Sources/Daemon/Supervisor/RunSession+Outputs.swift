import GloveboxProtocol
import GloveboxSystem
import RecordModel
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// A finished run's outputs, delivered to its client.
extension RunSession {
    /// Sends the outputs within 2 minutes; a client that reads slower, or a kill or shutdown meanwhile,
    /// ends the delivery (the record is already saved), so no client can hold a finished run's resources.
    func sendOutputs(from volume: StorageVolume, owner: uid_t, caps: WorkspaceOutputs.Caps, active: ActiveRun) {
        let deadline = Monotonic.now() + 120
        struct Abandoned: Error, CustomStringConvertible { let description: String }
        func check() throws {
            if Monotonic.now() > deadline { throw Abandoned(description: "the client took longer than 2 minutes to take the outputs") }
            var p = pollfd(fd: active.cancelEvent.raw, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) > 0 { throw Abandoned(description: active.reason ?? "cancelled") }
        }
        do {
            try WorkspaceOutputs.collect(upper: volume.upper, paths: request.outputs, owner: owner, caps: caps) { item in
                try check()
                switch item {
                case .directory(let path):
                    try FrameWriter.send(Wire.encode(.outputDirectory, OutputNote(path: path)), to: connection.raw)
                case .skipped(let path, let reason):
                    try FrameWriter.send(Wire.encode(.outputSkipped, OutputNote(path: path, reason: reason)), to: connection.raw)
                case .file(let path, let mode, let size, let descriptor):
                    try FrameWriter.send(Wire.encode(.outputFile, OutputFileHeader(path: path, mode: mode, size: size)), to: connection.raw)
                    FaultInjection.hit(.duringOutputs)
                    var left = size
                    while left > 0 {
                        try check()
                        let chunk = try descriptor.read(upTo: Int(min(left, 65536)))
                        if chunk.isEmpty { throw SystemError("read output", path, errno: EIO) }
                        try FrameWriter.send(Frame(.outputData, chunk), to: connection.raw)
                        left -= UInt64(chunk.count)
                    }
                }
            }
        } catch {
            logger.warning("outputs not delivered", metadata: ["error": "\(error)"])
        }
    }
}
