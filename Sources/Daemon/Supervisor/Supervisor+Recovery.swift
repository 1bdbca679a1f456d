import GloveboxSystem
import Logging
import Records
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// At start: what a daemon that died left behind.
extension Supervisor {
    /// Runs left by a daemon that died: kill what is left of them, remove their cgroups and directories,
    /// and record them as supervisor-lost.
    func recover() {
        // All killed before any is waited for: a run in a warm sandbox has its v1 cgroups under its
        // own name and its unified one (which kills) under the spare's.
        let leftovers = cgroups.leftoverRuns().compactMap { name in cgroups.adoptLeftover(name: name).map { (name, $0) } }
        for (_, cgroup) in leftovers { try? cgroup.killAll() }
        for (name, cgroup) in leftovers {
            guard cgroup.waitUntilEmpty(milliseconds: 5000) else {
                // Stuck in the kernel: the cgroup, and the run's uid, are kept until its processes are gone.
                let runID = name.hasPrefix("run-") ? Int64(name.dropFirst("run-".count)) : nil
                let uid = runID.flatMap { id in (try? records.run(id: id))?.sandboxUID }
                logger.error("a leftover run's processes did not die; its cgroup and uid are kept until they do",
                             metadata: ["run": "\(name)", "uid": "\(uid.map(String.init) ?? "unknown")"])
                let remains = Remains(cgroup: cgroup, initProcess: nil)
                if let uid { uids.quarantine(uid) { remains.isGone() } }
                continue
            }
            do { try cgroup.remove() } catch { logger.error("cannot remove leftover cgroup", metadata: ["run": "\(name)", "error": "\(error)"]) }
            if CgroupHierarchy.isSpare(name) { continue }  // made ahead of need, never used
            logger.warning("ended a run left by an earlier daemon", metadata: ["run": "\(name)"])
        }
        for name in FileIO.entries(of: config.stateDirectory + "/runs") {
            let dir = config.stateDirectory + "/runs/" + name
            // The daemon's mounts died with its mount namespace: only empty directories and an image are left.
            unlink(dir + "/volume.img")
            for sub in ["volume", "workspace", "lower", "root"] { _ = rmdir(dir + "/" + sub) }
            if rmdir(dir) != 0 { logger.error("cannot remove leftover run directory", metadata: ["path": "\(dir)", "errno": "\(errno)"]) }
        }
        // An image is unlinked as soon as its loop device holds it: one is left only by a crash in between.
        for name in FileIO.entries(of: imageDirectory) where name.hasSuffix(".img") { unlink(imageDirectory + "/" + name) }
        do {
            for var record in try records.unfinishedRuns() {
                record.status = .supervisorLost
                record.endedAt = Monotonic.wallNow()
                record.message = "the daemon stopped while the run was in progress; the run was ended at restart"
                try records.update(record)
                audit(.runLost, runID: record.id, uid: record.clientUID, template: record.template, record.message)
            }
        } catch {
            logger.error("cannot mark lost runs", metadata: ["error": "\(error)"])
        }
    }
}
