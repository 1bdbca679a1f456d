import CSandbox
import CSeccomp
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The seccomp filter of a run: everything allowed except a deny list at least as strict as Docker's
/// default profile, each denied call answering EPERM (ENOSYS for clone3, so libc falls back to clone,
/// whose flags can be checked). Built once per policy with libseccomp and kept as BPF bytes; the
/// launcher installs them just before execve.
public struct SeccompProfile: Sendable {
    /// struct sock_filter[] as bytes (8 bytes an instruction).
    public let bpf: [UInt8]
    public var instructionCount: Int { bpf.count / 8 }

    /// Calls denied outright. Namespaces, mounts, kernel keyrings, BPF, perf, userfaultfd, io_uring,
    /// kexec and modules, tracing other processes, file handles, swap, reboot, clocks, accounting,
    /// NUMA policy and obsolete calls.
    public static let deniedSyscalls: [String] = [
        "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "get_kernel_syms", "query_module", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
        "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot",
        "clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "stime",
        "acct", "lookup_dcookie", "quotactl", "quotactl_fd", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
        "vhangup", "iopl", "ioperm", "vm86", "vm86old", "syslog",
        "mbind", "set_mempolicy", "move_pages", "migrate_pages", "get_mempolicy",
        "fanotify_init", "lsm_set_self_attr",
    ]

    /// CLONE_NEW* flags: clone with any of them is refused.
    static let namespaceFlags: [UInt64] = [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000, 0x0000_0080]
    /// Socket families allowed: AF_UNIX (1), AF_INET (2), AF_INET6 (10), AF_NETLINK (16). Everything else
    /// (packet, vsock, alg, key, bluetooth, …) answers EPERM. libseccomp compares an argument with one
    /// value per rule, so the refused values are written as few rules as cover them exactly: each is
    /// (argument & mask) == value on all 64 bits, and everything above 16 is one rule (which also takes
    /// any value with its upper 32 bits set). 0, 3, 4–7, 8–9, 11, 12–15:
    static let refusedLowFamilies: [(mask: UInt64, value: UInt64)] = [
        (~0, 0), (~0, 3), (~3, 4), (~1, 8), (~0, 11), (~3, 12),
    ]
    static let highestAllowedFamily: UInt64 = 16
    /// TIOCSTI and TIOCLINUX: terminal input injection. Compared on the low 32 bits, as the kernel does.
    static let deniedIoctls: [UInt64] = [0x5412, 0x541C]

    public static func build(extraDenied: [String]) throws -> SeccompProfile {
        guard let ctx = seccomp_init(cseccomp_act_allow()) else { throw SandboxError.unavailable("libseccomp: seccomp_init failed") }
        defer { seccomp_release(ctx) }
        // A binary search over system call numbers instead of a list: fewer instructions for each call the
        // program makes, and far less work for the kernel when it installs the filter (it emulates the
        // filter for every system call number of every architecture to build its allow cache; with the
        // list, that was about 0.3 ms of every run's start). The decisions are the same.
        guard seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) == 0 else {
            throw SandboxError.unavailable("libseccomp: cannot build a binary-tree filter (SCMP_FLTATR_CTL_OPTIMIZE needs libseccomp 2.5)")
        }
        let eperm = cseccomp_act_errno(UInt16(EPERM))

        for name in deniedSyscalls + extraDenied {
            let nr = seccomp_syscall_resolve_name(name)
            if nr == __NR_SCMP_ERROR {
                if extraDenied.contains(name) { throw SandboxError.invalid("seccomp: unknown system call '\(name)' in the policy's deny list") }
                continue  // not on this architecture (e.g. vm86 on x86_64)
            }
            try rule(ctx, eperm, nr, [])
        }
        // clone3 passes its flags in memory, out of the filter's reach: ENOSYS makes glibc use clone.
        try rule(ctx, cseccomp_act_errno(UInt16(ENOSYS)), seccomp_syscall_resolve_name("clone3"), [])
        let clone = seccomp_syscall_resolve_name("clone")
        for flag in namespaceFlags {
            try rule(ctx, eperm, clone, [scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: flag, datum_b: flag)])
        }
        let socket = seccomp_syscall_resolve_name("socket")
        let socketpair = seccomp_syscall_resolve_name("socketpair")
        for call in [socket, socketpair] {
            for (mask, value) in refusedLowFamilies {
                try rule(ctx, eperm, call, [scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: value)])
            }
            try rule(ctx, eperm, call, [scmp_arg_cmp(arg: 0, op: SCMP_CMP_GT, datum_a: highestAllowedFamily, datum_b: 0)])
        }
        // NETLINK_KOBJECT_UEVENT: the kernel broadcasts the host's device events to every network namespace
        // of the initial user namespace, a run's included. Netlink routing (only `lo` to see) stays.
        for call in [socket, socketpair] {
            try rule(ctx, eperm, call, [scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: 16, datum_b: 0),
                                        scmp_arg_cmp(arg: 2, op: SCMP_CMP_EQ, datum_a: 15, datum_b: 0)])
        }
        let ioctl = seccomp_syscall_resolve_name("ioctl")
        for command in deniedIoctls {
            try rule(ctx, eperm, ioctl, [scmp_arg_cmp(arg: 1, op: SCMP_CMP_MASKED_EQ, datum_a: 0xFFFF_FFFF, datum_b: command)])
        }
        // personality: only PER_LINUX with at most UNAME26 (bit 3) and PER_LINUX32 (bit 17): Docker's
        // allowed values 0, 0x8, 0x20000, 0x20008. libseccomp takes one comparison per argument and rule:
        // every value above 0x20008 is one rule (bits 18 and up, the 0xffffffff query, any upper 32 bits),
        // and each other bit below 17 a rule of its own.
        let personality = seccomp_syscall_resolve_name("personality")
        try rule(ctx, eperm, personality, [scmp_arg_cmp(arg: 0, op: SCMP_CMP_GT, datum_a: 0x20008, datum_b: 0)])
        for bit in 0..<17 where bit != 3 {
            let mask: UInt64 = 1 << UInt64(bit)
            try rule(ctx, eperm, personality, [scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: mask)])
        }
        return SeccompProfile(bpf: try export(ctx))
    }

    private static func rule(_ ctx: scmp_filter_ctx, _ action: UInt32, _ nr: Int32, _ args: [scmp_arg_cmp]) throws {
        let rc = args.withUnsafeBufferPointer { cseccomp_rule_add(ctx, action, nr, UInt32(args.count), $0.baseAddress) }
        if rc < 0 {
            let name = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), nr).map { p -> String in defer { free(p) }; return String(cString: p) } ?? "#\(nr)"
            throw SandboxError.unavailable("libseccomp refused a rule for \(name): \(String(cString: strerror(-rc)))")
        }
    }

    /// libseccomp 2.5 exports only to a descriptor: a memfd, read back.
    private static func export(_ ctx: scmp_filter_ctx) throws -> [UInt8] {
        let fd = FileDescriptor(try syscallValue("memfd_create") { gb_memfd("glovebox-seccomp") })
        let rc = seccomp_export_bpf(ctx, fd.raw)
        if rc < 0 { throw SandboxError.unavailable("libseccomp: export failed: \(String(cString: strerror(-rc)))") }
        _ = lseek(fd.raw, 0, SEEK_SET)
        return try fd.readToEnd(limit: 1 << 20)
    }
}
