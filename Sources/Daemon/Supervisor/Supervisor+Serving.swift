import CSandbox
import GloveboxProtocol
import GloveboxSystem
import Logging
import Sandbox
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The socket, the accept loop and the shutdown: the runs in flight are ended and waited for.
extension Supervisor {
    /// Binds the socket and serves until `requestShutdown()`; then cancels the runs in flight, waits for
    /// their records, and removes the daemon's cgroup subtree.
    public func serve() throws {
        let (listener, passedBySystemd) = try bindSocket()
        defer {
            listener.close()
            // A socket systemd passed stays: gloveboxd.socket owns its path.
            if !passedBySystemd { unlink(config.socketPath) }
        }
        while true {
            var fds = [pollfd(fd: listener.raw, events: Int16(POLLIN), revents: 0), pollfd(fd: shutdownEvent.raw, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 { continue }
            if fds[1].revents != 0 { break }
            if fds[0].revents == 0 { continue }
            let client = gb_accept(listener.raw)
            if client < 0 { continue }
            if connections.add(1, ordering: .relaxed).newValue > Self.maxConnections {
                connections.subtract(1, ordering: .relaxed)
                logger.warning("connection refused: too many connections", metadata: ["limit": "\(Self.maxConnections)"])
                audit(.connectionRejected, "more than \(Self.maxConnections) connections")
                try? FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "gloveboxd is serving \(Self.maxConnections) connections; try again later")), to: client)
                close(client)
                continue
            }
            do {
                try spawnDetachedThread { [self] in
                    handle(connection: FileDescriptor(client))
                    connections.subtract(1, ordering: .relaxed)
                }
            } catch {
                connections.subtract(1, ordering: .relaxed)
                logger.error("cannot start a connection thread", metadata: ["error": "\(error)"])
                close(client)
            }
        }
        finishInFlight()
        sandboxes.warm.stop()
        cgroups.removeInstance()
        audit(.daemonStop, "gloveboxd stopped")
        logger.info("stopped")
    }

    public func requestShutdown() {
        var one: UInt64 = 1
        _ = write(shutdownEvent.raw, &one, 8)
    }

    /// At shutdown: cancel the runs in flight, or with [shutdown] runs = "wait" let them finish for up to
    /// the grace period first. Returns when every run is recorded.
    private func finishInFlight() {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        if active.withLock({ $0.isEmpty }) { return }
        if config.shutdown == .wait {
            logger.info("waiting for runs in flight", metadata: ["grace": "\(config.shutdownGraceSeconds)"])
            waitForRuns(until: Monotonic.now() + config.shutdownGraceSeconds)
        }
        let runs = active.withLock { Array($0.values) }
        if runs.isEmpty { return }
        logger.info("cancelling runs in flight", metadata: ["count": "\(runs.count)"])
        for run in runs { run.cancel(reason: "the daemon is shutting down") }
        // Runs that registered meanwhile are cancelled by register(); each ends its outputs within bounds.
        waitForRuns(until: .infinity)
    }

    private func waitForRuns(until deadline: Double) {
        while !active.withLock({ $0.isEmpty }) {
            let left = deadline - Monotonic.now()
            if left <= 0 { return }
            var p = pollfd(fd: drained.raw, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(min(left, 3600) * 1000))
            var counter: UInt64 = 0
            _ = read(drained.raw, &counter, 8)
        }
    }

    func register(_ run: ActiveRun) {
        active.withLock { $0[run.id] = run }
        if shuttingDown.load(ordering: .sequentiallyConsistent) { run.cancel(reason: "the daemon is shutting down") }
    }

    func activeRun(_ id: Int64) -> ActiveRun? { active.withLock { $0[id] } }

    func logPath(run id: Int64) -> String { logs.path(run: id) }

    func unregister(run: Int64) {
        _ = active.withLock { $0.removeValue(forKey: run) }
        var one: UInt64 = 1
        _ = write(drained.raw, &one, 8)
    }

    /// The listening socket: the one systemd passed (socket activation; systemd owns its path, mode and
    /// group, so it is neither bound, chmod'ed nor unlinked here) or, without one, the configured path,
    /// bound now. Returns whether systemd passed it. A failure removes the cgroup subtree made at start.
    private func bindSocket() throws -> (FileDescriptor, passedBySystemd: Bool) {
        do {
            if let passed = try SocketActivation.inherited() {
                logger.info("socket-activated: listening on the socket systemd passed", metadata: ["socket": "\(passed.path)"])
                if passed.path != config.socketPath {
                    logger.warning("the passed socket is not the configured one; [socket] path, group and mode do not apply",
                                   metadata: ["passed": "\(passed.path)", "configured": "\(config.socketPath)"])
                }
                return (passed.descriptor, true)
            }
            let fd = try bindConfiguredSocket()
            logger.info("listening", metadata: ["socket": "\(config.socketPath)"])
            return (fd, false)
        } catch {
            sandboxes.warm.stop()
            cgroups.removeInstance()
            throw error
        }
    }

    private func bindConfiguredSocket() throws -> FileDescriptor {
        let path = config.socketPath
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty { try FileIO.mkdir(parent, mode: 0o755) }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw SandboxError.invalid("\(path) exists and is not a socket") }
            unlink(path)
        }
        // Bound and listening under a temporary name, then renamed into place: a client never finds the path
        // before the daemon listens on it (it would get "connection refused").
        let staging = path + ".new"
        unlink(staging)
        let fd = FileDescriptor(try syscallValue("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(staging.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SandboxError.invalid("socket path too long: \(path) (at most \(MemoryLayout.size(ofValue: address.sun_path) - 5) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        try withUnsafePointer(to: &address) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                _ = try syscallValue("bind", staging) { bind(fd.raw, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        do {
            if let group = config.socketGroup {
                guard let gid = Authorization.groupID(group) else { throw SandboxError.invalid("socket group '\(group)' does not exist") }
                try syscallValue("chown", staging) { chown(staging, 0, gid) }
            }
            try syscallValue("chmod", staging) { chmod(staging, mode_t(config.socketMode)) }
            try syscallValue("listen", staging) { listen(fd.raw, 128) }
            try syscallValue("rename the socket to", path) { rename(staging, path) }
        } catch {
            unlink(staging)
            throw error
        }
        return fd
    }
}
