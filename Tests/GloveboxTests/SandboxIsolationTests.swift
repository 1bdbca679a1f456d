import Policy
import Records
import GloveboxSystem
import Synchronization
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a program inside a run can see and do: identity, privileges, files, devices, descriptors,
/// environment and network. Each test runs a real program under the real daemon and asserts the exact
/// outcome, so removing the mechanism makes it fail.
final class SandboxIsolationTests: DaemonTestCase {


    func runOK(_ argv: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        let outcome = daemon.run(argv)
        XCTAssertNil(outcome.error, file: file, line: line)
        XCTAssertEqual(outcome.record?.status, .ok, "stderr: \(outcome.stderr)\nlog: \(daemon.log.suffix(2000))", file: file, line: line)
        return outcome.stdout
    }

    func testProgramRunsWithoutCapabilitiesWithNoNewPrivsAndSeccomp() {
        let status = runOK(["/bin/cat", "/proc/self/status"])
        let fields = Dictionary(status.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(fields["CapEff"], "0000000000000000")
        XCTAssertEqual(fields["CapPrm"], "0000000000000000")
        XCTAssertEqual(fields["CapBnd"], "0000000000000000")
        XCTAssertEqual(fields["CapAmb"], "0000000000000000")
        XCTAssertEqual(fields["NoNewPrivs"], "1")
        XCTAssertEqual(fields["Seccomp"], "2")
    }

    /// Init keeps only CAP_KILL once the program is started, and its bounding set holds only the four
    /// capabilities it started with (CAP_SETGID, CAP_SETUID, CAP_KILL, CAP_SETPCAP: bits 6, 7, 5 and 8),
    /// emptied for its setup before the run was handed over.
    func testInitKeepsOnlyCapKillAndABoundingSetOfItsFour() {
        let status = runOK(["/bin/cat", "/proc/1/status"])
        let fields = Dictionary(status.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(fields["Name"], "glovebox-init")
        XCTAssertEqual(fields["CapEff"], "0000000000000020")
        XCTAssertEqual(fields["CapPrm"], "0000000000000020")
        XCTAssertEqual(fields["CapBnd"], "00000000000001e0")
        XCTAssertEqual(fields["NoNewPrivs"], "1")
        // gloveboxd's own, which nothing it executes can exceed (its runs' init, mkfs.ext4).
        let daemonStatus = (try? String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)) ?? ""
        XCTAssertTrue(daemonStatus.contains("CapBnd:\t00000000000001e0\n"), daemonStatus)
    }

    func testProgramRunsAsAnUnprivilegedUidOfItsOwn() {
        let outcome = daemon.run(["/usr/bin/id", "-u"])
        let uid = UInt32(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertNotNil(uid)
        XCTAssertNotEqual(uid, 0)
        XCTAssertEqual(outcome.record?.sandboxUID, uid)
        XCTAssertNil(getpwuid(uid ?? 0), "the sandbox uid must belong to no real user")
    }

    func testProgramIsPidOneChildInItsOwnPidNamespace() {
        // init is pid 1; the program is its first child.
        XCTAssertEqual(runOK(["/bin/sh", "-c", "echo $$"]).trimmingCharacters(in: .whitespacesAndNewlines), "2")
    }

    /// The run's cgroup namespace is made once its setup child is in the run's cgroups (on cgroup v1 it
    /// joins them itself, after the clone): the run sees its own cgroup as the root of every hierarchy,
    /// never the host's paths.
    func testTheRunSeesItsOwnCgroupsAsTheRootOfEveryHierarchy() {
        let lines = runOK(["/bin/cat", "/proc/self/cgroup"]).split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.isEmpty)
        for line in lines { XCTAssertTrue(line.hasSuffix(":/"), "\(line) in\n\(lines.joined(separator: "\n"))") }
    }

    func testHostFilesOutsideThePolicysPathsAreInvisible() {
        let out = runOK(["/bin/sh", "-c", "for p in /etc/shadow /etc/passwd /root /home /sys /run /var /proc/1/environ; do if [ -e $p ]; then echo visible $p; fi; done; cat /proc/1/environ 2>&1 >/dev/null | head -c 100; true"])
        XCTAssertFalse(out.contains("visible /etc/shadow"))
        XCTAssertFalse(out.contains("visible /root"))
        XCTAssertFalse(out.contains("visible /home"))
        XCTAssertFalse(out.contains("visible /sys"))
        XCTAssertFalse(out.contains("visible /run"))
        XCTAssertFalse(out.contains("visible /var"))
    }

    func testTheRootAndSystemPathsAreReadOnly() {
        let out = runOK(["/bin/sh", "-c", "for p in /x /usr/x /dev/x /proc/sys/kernel/hostname; do (echo 1 > $p) 2>/dev/null && echo wrote $p; done; echo done"])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "done")
    }

    func testOnlyTheRunsDeviceNodesExistAndNoOthersCanBeMade() {
        let out = runOK(["/bin/ls", "/dev"])
        XCTAssertEqual(Set(out.split(separator: "\n").map(String.init)),
                       ["fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"])
        let mknod = daemon.run([python, "-c", "import os\ntry:\n os.mknod('/tmp/sda', 0o600 | 0o060000, os.makedev(8, 0))\nexcept OSError as e: print(e.errno)"])
        XCTAssertEqual(mknod.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(EPERM)")
    }

    func testOnlyDescriptorsZeroToTwoReachTheProgram() {
        let out = runOK([python, "-c", "import os\nopen_fds=[]\nfor fd in range(3, 4096):\n try:\n  os.fstat(fd); open_fds.append(fd)\n except OSError: pass\nprint(open_fds)"])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "[]")
    }

    func testTheClientsEnvironmentDoesNotReachTheProgram() {
        setenv("GLOVEBOX_TEST_SECRET", "sk-live-123", 1)
        defer { unsetenv("GLOVEBOX_TEST_SECRET") }
        let out = runOK(["/usr/bin/env"])
        XCTAssertFalse(out.contains("sk-live-123"))
        XCTAssertTrue(out.contains("PATH=/usr/local/bin:/usr/bin:/bin"))
    }

    func testAVariableThePolicyDoesNotPassIsRefusedAndRecorded() {
        let outcome = daemon.run(["/usr/bin/env"], environment: ["OPENAI_API_KEY": "sk-x"])
        XCTAssertNotNil(outcome.error)
        XCTAssertTrue(outcome.error?.contains("OPENAI_API_KEY") ?? false, outcome.error ?? "")
    }

    func testTheNetworkHasOnlyLoopbackAndCannotReachTheHost() throws {
        // A listener on the host's loopback: the sandbox's own loopback is a different one.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(listener, $0, length); _ = getsockname(listener, $0, &length) } }
        listen(listener, 8)
        let port = UInt16(bigEndian: address.sin_port)
        let script = """
        import socket, errno
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", \(port))); print("connected")
        except OSError as e:
            print("refused" if e.errno == errno.ECONNREFUSED else e.errno)
        try:
            socket.create_connection(("10.0.0.1", 80), timeout=2); print("connected-out")
        except OSError as e:
            print(e.errno)
        print(sorted(n for _, n in socket.if_nameindex()))
        """
        let out = runOK([python, "-c", script]).split(separator: "\n").map(String.init)
        XCTAssertEqual(out, ["refused", "\(ENETUNREACH)", "['lo']"])
        var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pfd, 1, 0), 0, "the host listener must see no connection")
    }

    /// Network namespaces are made ahead of need (NetworkNamespacePool): each run still gets one of its own,
    /// never the host's, never one another run had. Namespaces are told apart by their cookie
    /// (SO_NETNS_COOKIE), which the kernel never reuses; inode numbers are reused once a namespace is gone.
    func testEveryRunHasANetworkNamespaceOfItsOwn() throws {
        let cookie = "import socket; print(int.from_bytes(socket.socket().getsockopt(socket.SOL_SOCKET, 71, 8), 'little'))"
        let host = try DaemonFixture.run([python, "-c", cookie]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let seen = (0..<8).map { _ in runOK([python, "-c", cookie]).trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertTrue(seen.allSatisfy { UInt64($0) != nil }, "\(seen)")
        XCTAssertEqual(Set(seen).count, seen.count, "a network namespace went to two runs: \(seen)")
        XCTAssertFalse(seen.contains(host), "a run had the host's network namespace (\(host))")
        // Eight at once: more than the pool holds, so some runs make their namespace at their clone. Either
        // way each has its own, with a working loopback.
        let probe = """
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
        c = socket.create_connection(s.getsockname(), timeout=2)
        print(int.from_bytes(c.getsockopt(socket.SOL_SOCKET, 71, 8), 'little'))
        """
        let together = Mutex<[String]>([])
        let fixture = daemon, interpreter = python
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let outcome = fixture.run([interpreter, "-c", probe])
            together.withLock { $0.append(outcome.record?.status == .ok ? outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : "failed: \(outcome.stderr)") }
        }
        let concurrent = together.withLock { $0 }
        XCTAssertTrue(concurrent.allSatisfy { UInt64($0) != nil }, "\(concurrent)")
        XCTAssertEqual(Set(concurrent + seen).count, concurrent.count + seen.count, "a network namespace went to two runs: \(concurrent)")
        // Beside its own, the daemon holds only the namespaces it has ready (2) and those of the sandboxes
        // made ahead of need that wait for a run (WarmSandboxes): none leaks with a run.
        func netns(_ path: String) -> String { (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?" }
        let own = netns("/proc/\(daemon.pid)/ns/net")
        let fds = "/proc/\(daemon.pid)/fd"
        var held: [String] = [], waiting: Set<String> = [], children: Set<Substring> = []
        let deadline = Date().addingTimeInterval(5)
        repeat {
            children = Set(((try? daemon.cgroupDirectories("spare-*")) ?? []).flatMap { dir in
                ((try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n")
            })
            waiting = Set(children.map { netns("/proc/\($0)/ns/net") })
            held = ((try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []).map { netns(fds + "/" + $0) }
                .filter { $0.hasPrefix("net:[") && $0 != own && !waiting.contains($0) }
            if held.count == 2 { break }
            usleep(20_000)
        } while Date() < deadline
        XCTAssertEqual(held.count, 2, "namespaces held by the daemon besides its own and its sandboxes made ahead (\(waiting)): \(held)")
        XCTAssertEqual(waiting.count, children.count, "each sandbox made ahead has a network namespace of its own: \(waiting)")
    }

    func testSeccompRefusesNamespacesMountsAndDangerousSockets() {
        let script = """
        import ctypes, os, socket, errno
        libc = ctypes.CDLL(None, use_errno=True)
        def err(rc):
            return ctypes.get_errno() if rc != 0 else 0
        print("unshare", err(libc.unshare(0x20000000)))
        print("mount", err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
        print("chroot", err(libc.chroot(b"/tmp")))
        print("ptrace", err(libc.ptrace(16, 1, 0, 0)))
        for family in (17, 40, 38):
            try:
                socket.socket(family, socket.SOCK_RAW if family == 17 else socket.SOCK_SEQPACKET if family == 38 else socket.SOCK_STREAM); print("socket", family, 0)
            except OSError as e:
                print("socket", family, e.errno)
        print("tiocsti", err(libc.ioctl(0, 0x5412, ctypes.c_char_p(b"x"))))
        print("tiocsti-high", err(libc.ioctl(0, ctypes.c_ulong(0xffffffff00005412), ctypes.c_char_p(b"x"))))
        """
        let out = runOK([python, "-c", script])
        XCTAssertEqual(out.split(separator: "\n").map(String.init), [
            "unshare \(EPERM)", "mount \(EPERM)", "chroot \(EPERM)", "ptrace \(EPERM)",
            "socket 17 \(EPERM)", "socket 40 \(EPERM)", "socket 38 \(EPERM)",
            "tiocsti \(EPERM)", "tiocsti-high \(EPERM)",
        ])
    }

    /// Every socket family, netlink protocol and personality value the filter decides on, asked of the
    /// kernel through raw system calls with 64-bit arguments: refused (EPERM) exactly where SeccompProfile
    /// says, on the low 32 bits, which are all the kernel reads of these `int` arguments. A value with its
    /// upper bits set is refused exactly when its low bits are. Families from 2^16 on (a sa_family_t is 16
    /// bits) and netlink protocols from 32 on (MAX_LINKS) the kernel refuses itself. Each outcome is S (a
    /// socket), E (EPERM) or K (another errno, the kernel's).
    func testSeccompDecidesEverySocketFamilyProtocolAndPersonalityOnTheLow32Bits() {
        let script = """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        EPERM, SOCKET, SOCKETPAIR, PERSONALITY = 1, 41, 53, 135
        def call(nr, *args):
            ctypes.set_errno(0)
            rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
            return rc, (ctypes.get_errno() if rc < 0 else 0)
        def outcome(rc, err):
            return "S" if rc >= 0 else ("E" if err == EPERM else "K")
        pair = (ctypes.c_int * 2)()
        highs = (0, 2**32, 2**63, 0xffffffff << 32)
        families = list(range(0, 80)) + [127, 128, 255, 256, 4096, 65535, 65536, 2**31 - 1, 2**32 - 1]
        out = []
        for f in [high + low for high in highs for low in families]:
            fd, s = call(SOCKET, f, 2, 0)
            if fd >= 0: libc.close(fd)
            rc, p = call(SOCKETPAIR, f, 1, 0, ctypes.addressof(pair))
            if rc == 0: libc.close(pair[0]); libc.close(pair[1])
            out.append(f"{f}:{outcome(fd, s)}{outcome(rc, p)}")
        print(" ".join(out))
        protocols = []
        for proto in [high + low for high in highs for low in list(range(0, 40)) + [2**31 - 1, 2**32 - 1]]:
            fd, s = call(SOCKET, 16, 2, proto)
            if fd >= 0: libc.close(fd)
            protocols.append(f"{proto}:{outcome(fd, s)}")
        print(" ".join(protocols))
        values = [0, 8, 0x20000, 0x20008, 0xffffffff] + [1 << b for b in range(32)] + [0x20001, 0x28]
        out = []
        for v in [high + low for high in highs for low in values]:
            out.append(f"{v:#x}:{int(call(PERSONALITY, v)[1] == EPERM)}")
            call(PERSONALITY, 0)
        print(" ".join(out))
        """
        let out = runOK([python, "-c", script]).split(separator: "\n").map(String.init)
        XCTAssertEqual(out.count, 3, out.joined(separator: "\n"))
        guard out.count == 3 else { return }
        let highs: [UInt64] = [0, 1 << 32, 1 << 63, 0xffff_ffff << 32]
        func low(_ value: UInt64) -> UInt64 { value & 0xffff_ffff }
        let allowed: Set<UInt64> = [1, 2, 10, 16]
        let families = Array(UInt64(0)..<80) + [127, 128, 255, 256, 4096, 65535, 65536, (1 << 31) - 1, (1 << 32) - 1]
        let expectedFamilies = highs.flatMap { high in families.map { high + $0 } }.map { f -> String in
            let socket = allowed.contains(low(f)) ? "S" : low(f) < 1 << 16 ? "E" : "K"
            let pair = low(f) == 1 ? "S" : low(f) < 1 << 16 ? "E" : "K"
            return "\(f):\(socket)\(pair)"
        }.joined(separator: " ")
        XCTAssertEqual(out[0], expectedFamilies)
        let netlink: Set<UInt64> = [0, 4]
        let protocols = Array(UInt64(0)..<40) + [(1 << 31) - 1, (1 << 32) - 1]
        let expectedProtocols = highs.flatMap { high in protocols.map { high + $0 } }
            .map { "\($0):" + (netlink.contains(low($0)) ? "S" : low($0) < 32 ? "E" : "K") }.joined(separator: " ")
        XCTAssertEqual(out[1], expectedProtocols)
        let permitted: Set<UInt64> = [0, 8, 0x20000, 0x20008, 0xffff_ffff]
        let values: [UInt64] = [0, 8, 0x20000, 0x20008, 0xffff_ffff] + (0..<32).map { UInt64(1) << $0 } + [0x20001, 0x28]
        let expectedValues = highs.flatMap { high in values.map { high + $0 } }
            .map { "0x\(String($0, radix: 16)):" + (permitted.contains(low($0)) ? "0" : "1") }.joined(separator: " ")
        XCTAssertEqual(out[2], expectedValues)
    }

    func testASetuidBinaryGainsNothing() throws {
        // A setuid-root program in a directory the policy shows read-only: nosuid and no_new_privs keep it unprivileged.
        let dir = daemon.scratch + "/suid"
        mkdir(dir, 0o755)
        try DaemonFixture.write(dir + "/whoami.c", "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\",(int)geteuid());return 0;}\n")
        let cc = try DaemonFixture.run(["/usr/bin/cc", "-o", dir + "/whoami", dir + "/whoami.c"])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        XCTAssertEqual(chown(dir + "/whoami", 0, 0), 0)
        XCTAssertEqual(chmod(dir + "/whoami", 0o4755), 0)
        let host = try DaemonFixture.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", dir + "/whoami"])
        XCTAssertEqual(host.stdout, "0\n", "outside the sandbox the binary does elevate (the test's own control)")
        let policy = try String(contentsOfFile: daemon.policyDir + "/default.toml", encoding: .utf8)
            .replacingOccurrences(of: "read_only = [", with: "read_only = [\"\(dir)\", ")
        let fixture = try DaemonFixture(policies: ["suid": policy])
        defer { fixture.stop() }
        let outcome = fixture.run([dir + "/whoami"], template: "suid")
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr + fixture.log)
        XCTAssertNotEqual(outcome.stdout, "0\n")
        XCTAssertEqual(outcome.stdout, "\(outcome.record?.sandboxUID ?? 0)\n")
    }
}

extension SandboxIsolationTests {
    func testSystemCallsOfAnotherArchitectureKillTheProgram() throws {
        // i386 system calls through int 0x80 would slip past an x86_64-only filter: they must not run.
        let dir = daemon.scratch + "/arch"
        mkdir(dir, 0o755)
        try DaemonFixture.write(dir + "/i386.c", """
            #include <stdio.h>
            int main(void) {
                long ret;
                __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(310), "b"(0x10000000) : "memory"); /* i386 unshare(CLONE_NEWUSER) */
                printf("unshare returned %ld\\n", ret);
                return 0;
            }
            """)
        let cc = try DaemonFixture.run(["/usr/bin/cc", "-o", dir + "/i386", dir + "/i386.c"])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let outcome = daemon.run(["./i386"], workdir: dir)
        XCTAssertEqual(outcome.record?.status, .signaled, outcome.stdout + outcome.stderr)
        XCTAssertEqual(outcome.record?.signal, SIGSYS)
        XCTAssertEqual(outcome.stdout, "")
    }
}

extension SandboxIsolationTests {
    func testConcurrentRunsEachGetADistinctUid() throws {
        let fixture = daemon
        let results = Mutex<[(uid: String, status: RunStatus?)]>([])
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<8 {  // threads of their own: all eight runs are in flight together
            try spawnDetachedThread {
                let outcome = fixture.run(["/bin/sh", "-c", "id -u; sleep 1"])
                results.withLock { $0.append((outcome.stdout, outcome.record?.status)) }
                done.signal()
            }
        }
        for _ in 0..<8 { XCTAssertEqual(done.wait(timeout: .now() + 60), .success) }
        let all = results.withLock { $0 }
        XCTAssertEqual(all.map(\.status), Array(repeating: .ok, count: 8))
        XCTAssertEqual(Set(all.map(\.uid)).count, 8, "\(all.map(\.uid))")
    }
}
