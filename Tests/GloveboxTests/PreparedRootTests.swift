import GloveboxSystem
import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Runs copy a root prepared once for many runs (PreparedRoots): its mounts must reach no other namespace
/// through propagation, and a change of the host's under a policy's read-only paths (a mount, an unmount,
/// a file replaced, a mount's options) must reach the runs that start more than 2 s later, however long the
/// root has been kept.
final class PreparedRootTests: FixturesTestCase {
    /// Every mount a run sees is private: none is shared with, or a slave of, the host's, the prepared
    /// root's or another run's (mountinfo's optional fields name a peer group or a master otherwise). A
    /// read-only path on a shared mount of the host's is the case that matters: the daemon's namespace is
    /// its slave, and a plain bind of it would be too.
    func testNoMountOfARunPropagatesAnywhere() throws {
        let dir = try sharedMount()
        defer { remove(dir) }
        let f = try fixture(policies: ["shared": DaemonTestCase.policy(readOnly: dir)])
        for _ in 0..<2 {  // the first run builds the prepared root, the second copies the one kept
            let outcome = f.run(["/bin/cat", "/proc/self/mountinfo"], template: "shared")
            XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr + f.log.suffix(2000))
            let lines = outcome.stdout.split(separator: "\n")
            XCTAssertTrue(lines.contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == dir }, outcome.stdout)
            for line in lines {
                let optional = line.split(separator: " ").dropFirst(6).prefix { $0 != "-" }
                XCTAssertTrue(optional.isEmpty, "a mount that propagates: \(line)")
            }
        }
    }

    /// A filesystem mounted on the host below a read-only path, after the daemon started, is seen by the
    /// runs that start more than PreparedRoots.recheckAfter later, though roots are kept far longer: the
    /// run that takes the root looks at the host first, finds a mount it lacks, and builds another.
    func testAHostMountBelowAReadOnlyPathReachesRunsThatStartLater() throws {
        let dir = try sharedMount()
        defer { remove(dir) }
        XCTAssertEqual(mkdir(dir + "/sub", 0o755), 0)
        let f = try fixture(policies: ["shared": DaemonTestCase.policy(readOnly: dir)], config: keptLong)
        try checkAMountReachesLaterRuns(f, template: "shared", at: dir + "/sub")

        // And unmounted again: the root with the mount is let go in turn.
        XCTAssertEqual(umount2(dir + "/sub", Int32(MNT_DETACH)), 0, String(cString: strerror(errno)))
        waitPastRecheck()
        let unmounted = f.run(["/bin/ls", dir + "/sub"], template: "shared")
        XCTAssertEqual(unmounted.record?.status, .ok, unmounted.stderr + f.log.suffix(2000))
        XCTAssertEqual(unmounted.stdout, "")
    }

    /// Runs of `template` see `path` empty; then a tmpfs with a marker is mounted on the host there, and a
    /// run more than PreparedRoots.recheckAfter later sees the marker. The caller unmounts it.
    private func checkAMountReachesLaterRuns(_ f: DaemonFixture, template: String, at path: String) throws {
        let before = f.run(["/bin/ls", path], template: template)
        XCTAssertEqual(before.record?.status, .ok, before.stderr + f.log.suffix(2000))
        XCTAssertEqual(before.stdout, "")
        XCTAssertEqual(mount("tmpfs", path, "tmpfs", 0, "size=1m"), 0, String(cString: strerror(errno)))
        try DaemonFixture.write(path + "/marker", "mounted later\n")
        waitPastRecheck()
        let after = f.run(["/bin/cat", path + "/marker"], template: template)
        XCTAssertEqual(after.record?.status, .ok, after.stderr + f.log.suffix(2000))
        XCTAssertEqual(after.stdout, "mounted later\n")
    }

    /// A bind copies the flags of the mount it is taken from: the host remounting the filesystem a read-only
    /// path lies on noexec reaches the runs that start more than 2 s later (the mount is above the path, not
    /// at or below it).
    func testOptionsOfTheMountAPathLiesOnReachRunsThatStartLater() throws {
        let dir = try sharedMount()
        defer { remove(dir) }
        XCTAssertEqual(mkdir(dir + "/sub", 0o755), 0)
        try DaemonFixture.write(dir + "/sub/hello", "#!/bin/sh\necho hello\n")
        XCTAssertEqual(chmod(dir + "/sub/hello", 0o755), 0)
        let f = try fixture(policies: ["parent": DaemonTestCase.policy(readOnly: dir + "/sub")], config: keptLong)
        let probe = ["/bin/sh", "-c", "\(dir)/sub/hello; echo status=$?"]
        let before = f.run(probe, template: "parent")
        XCTAssertEqual(before.record?.status, .ok, before.stderr + f.log.suffix(2000))
        XCTAssertEqual(before.stdout, "hello\nstatus=0\n")

        // In the daemon's own mount namespace: a change of a mount's flags does not propagate to its slaves.
        let remount = try DaemonFixture.run(["/usr/bin/nsenter", "-t", "\(f.pid)", "-m", "/bin/mount", "-o", "remount,bind,noexec", dir])
        XCTAssertEqual(remount.status, 0, remount.stderr)
        waitPastRecheck()
        let after = f.run(probe, template: "parent")
        XCTAssertEqual(after.record?.status, .ok, after.stderr + f.log.suffix(2000))
        XCTAssertEqual(after.stdout, "status=126\n", after.stderr)
    }

    /// A mount made and undone on the host while a root is built is in the root and in no look at the host
    /// before or after: the build saw the daemon's mounts change (MountWatch), so the root serves only
    /// PreparedRoots.recheckAfter, and runs after that get one without the mount. A fault places the mount.
    func testARootBuiltWhileTheHostsMountsChangedIsNotKept() throws {
        let dir = try hostDirectory("transient")
        defer { _ = umount2(dir + "/transient", Int32(MNT_DETACH)) }
        XCTAssertEqual(mkdir(dir + "/transient", 0o755), 0)
        let f = try fixture(policies: ["transient": DaemonTestCase.policy(readOnly: dir)], config: keptLong)
        try f.restart(environment: ["GLOVEBOX_FAULT": "mount-during-build"])
        let mounted = { (outcome: DaemonFixture.Outcome) in
            outcome.stdout.split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == dir + "/transient" }
        }
        let during = f.run(["/bin/cat", "/proc/self/mountinfo"], template: "transient")
        XCTAssertEqual(during.record?.status, .ok, during.stderr + f.log.suffix(2000))
        XCTAssertTrue(mounted(during), "the fault's mount is in the first root: \(during.stdout)")
        waitPastRecheck()
        let after = f.run(["/bin/cat", "/proc/self/mountinfo"], template: "transient")
        XCTAssertEqual(after.record?.status, .ok, after.stderr + f.log.suffix(2000))
        XCTAssertFalse(mounted(after), "a root with a mount the host no longer has was kept: \(after.stdout)")
    }

    /// A read-only path that is a single file is bound as the file it is: one the host replaces by renaming
    /// another over it (as editors and package managers do) reaches the runs that start more than
    /// PreparedRoots.recheckAfter later, though roots are kept far longer.
    func testAFileReplacedOnTheHostReachesRunsThatStartLater() throws {
        let dir = try hostDirectory("replaced")
        try DaemonFixture.write(dir + "/settings", "first\n")
        XCTAssertEqual(chmod(dir + "/settings", 0o644), 0)
        let f = try fixture(policies: ["file": DaemonTestCase.policy(readOnly: dir + "/settings")], config: keptLong)
        let before = f.run(["/bin/cat", dir + "/settings"], template: "file")
        XCTAssertEqual(before.record?.status, .ok, before.stderr + f.log.suffix(2000))
        XCTAssertEqual(before.stdout, "first\n")

        try replaceByRename(dir + "/settings", with: "second\n")
        waitPastRecheck()
        let after = f.run(["/bin/cat", dir + "/settings"], template: "file")
        XCTAssertEqual(after.record?.status, .ok, after.stderr + f.log.suffix(2000))
        XCTAssertEqual(after.stdout, "second\n")
    }

    /// Nothing changed on the host: a run after more than PreparedRoots.recheckAfter idle takes the root
    /// that was kept (its mount namespace is the one the daemon held), after looking at the host.
    func testARootIsKeptWhileTheHostIsUnchanged() throws {
        let f = try fixture(config: keptLong)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        XCTAssertTrue(eventually(1) { heldNamespaces(f).count == 1 }, "\(heldNamespaces(f))")
        let kept = heldNamespaces(f)
        waitPastRecheck(margin: 0.5)
        XCTAssertEqual(heldNamespaces(f), kept, "kept while idle")
        let outcome = f.run(["/bin/readlink", "/proc/self/ns/mnt"])
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr)
        XCTAssertTrue(eventually(1) { heldNamespaces(f) == kept }, "the same root serves on: \(heldNamespaces(f)) against \(kept)")
    }

    /// A root no run has used for `[sandbox] keep_idle` is let go without waiting for another run: it
    /// holds the host's filesystems below the policy's paths, which must not stay busy for ever.
    func testARootNoLongerUsedIsLetGoAfterKeepIdle() throws {
        let f = try fixture(config: "[sandbox]\nkeep_idle = \"2s\"\n")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        // The run's own namespace goes at its cleanup, just after the reply; the prepared root's stays.
        XCTAssertTrue(eventually(1) { heldNamespaces(f).count == 1 }, "\(heldNamespaces(f))")
        XCTAssertTrue(eventually(2 + 3) { heldNamespaces(f).isEmpty }, "\(heldNamespaces(f))")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "a new root is made for the next run")
    }

    /// The mount namespaces the daemon holds descriptors of (prepared roots, runs in flight).
    private func heldNamespaces(_ f: DaemonFixture) -> [String] {
        FileIO.entries(of: "/proc/\(f.pid)/fd").compactMap { FileIO.readLink("/proc/\(f.pid)/fd/" + $0) }.filter { $0.hasPrefix("mnt:[") }.sorted()
    }

    /// The root is built by descriptors, with every path resolved within it: a symlink inside a bound host
    /// directory whose target is absolute leads to the root's own path of that name, never to the host's. A
    /// workdir below such a symlink gets its mount point inside the root, or none where the symlink leads
    /// nowhere inside; nothing is made on the host either way.
    func testASymlinkOnTheWayToAMountPointNeverLeadsToTheHost() throws {
        let dir = try hostDirectory("symlink")
        XCTAssertEqual(mkdir(dir + "/ro", 0o755), 0)
        XCTAssertEqual(mkdir(dir + "/host", 0o755), 0)
        try DaemonFixture.write(dir + "/ro/note", "read-only\n")
        // Both lead to writable host directories; inside, \(dir) exists (it holds ro) and \(dir)/host does not.
        XCTAssertEqual(symlink(dir, dir + "/ro/inside"), 0)
        XCTAssertEqual(symlink(dir + "/host", dir + "/ro/nowhere"), 0)
        let policy = { (workdir: String) in
            DaemonTestCase.policy(readOnly: dir + "/ro").replacingOccurrences(of: "[limits]", with: "workdir = \"\(workdir)\"\n\n[limits]")
        }
        let f = try fixture(policies: ["inside": policy(dir + "/ro/inside/w"), "nowhere": policy(dir + "/ro/nowhere/w")])

        let inside = f.run(["/bin/sh", "-c", "/bin/pwd -P && cat \(dir)/ro/note && echo made > out && cat out"], template: "inside")
        XCTAssertEqual(inside.record?.status, .ok, inside.stderr + f.log.suffix(2000))
        XCTAssertEqual(inside.stdout, "\(dir)/w\nread-only\nmade\n")

        let nowhere = f.run(["/bin/true"], template: "nowhere")
        XCTAssertEqual(nowhere.record?.status, .internalError)
        XCTAssertTrue(f.log.contains("'prepared root: create a mount point': No such file or directory"), String(f.log.suffix(2000)))

        XCTAssertEqual(FileIO.entries(of: dir).sorted(), ["host", "ro"], "a mount point was made on the host")
        XCTAssertEqual(FileIO.entries(of: dir + "/host"), [], "a mount point was made on the host")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "the daemon serves on")
    }

    /// A tmpfs of the host's, made shared, on a new directory: a daemon started after it has a slave of it.
    private func sharedMount() throws -> String {
        let dir = try hostDirectory("prepared-root")
        guard mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0755") == 0 else {
            throw XCTSkip("mount a tmpfs: \(String(cString: strerror(errno)))")
        }
        XCTAssertEqual(mount("", dir, "", UInt(MS_SHARED), nil), 0, String(cString: strerror(errno)))
        return dir
    }

    /// Unmounts sharedMount()'s tmpfs and what a test mounted on its `sub` (the directory goes after the test).
    private func remove(_ dir: String) {
        _ = umount2(dir + "/sub", Int32(MNT_DETACH))
        _ = umount2(dir, Int32(MNT_DETACH))
    }
}
