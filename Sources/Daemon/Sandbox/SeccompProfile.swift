import CSandbox
import CSeccomp
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The seccomp filters of a run, built once per policy with libseccomp and kept as BPF; glovebox-init
/// installs them in the program's process just before its execve. Two filters, and for each system call
/// the kernel takes the stricter of their answers:
///
/// - the allow-list (SeccompAllowList): the calls ordinary programs make are allowed, a deny list at
///   least as strict as Docker's default profile answers EPERM, and every other call ENOSYS, including
///   those kernels add later, so that programs fall back as on an older kernel (clone3 among them: libc
///   then uses clone, whose flags the second filter can see);
/// - the argument filter: the rules on arguments of allowed calls (namespace flags of clone, socket
///   families and netlink protocols, terminal ioctls, personality, RLIMIT_CORE), each answering EPERM.
///   Kept apart because libseccomp cannot allow a call and refuse some of its arguments in one filter:
///   an unconditional rule swallows the conditional ones.
///
/// Every argument the filter looks at is an `int` or `unsigned int` to the kernel, which uses only its
/// low 32 bits; a program may set the upper 32 bits to anything. So every comparison is made on the low
/// 32 bits only (`LowWord`): a value with its upper bits set is the value of its low bits, never another
/// one that slips past a rule.
public struct SeccompProfile: Sendable {
    /// The filters as glovebox-init reads them: for each, a header (a struct sock_filter whose `k` is the
    /// filter's number of instructions) and its instructions (8 bytes each), in the order installed.
    public let bpf: [UInt8]
    public var instructionCount: Int { bpf.count / 8 }

    /// Calls denied outright. Namespaces, mounts, kernel keyrings, BPF, perf, userfaultfd, io_uring,
    /// kexec and modules, tracing other processes, file handles, swap, reboot, clocks, accounting,
    /// NUMA policy and obsolete calls.
    public static let deniedSyscalls: [String] = [
        "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "open_tree_attr",
        "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "get_kernel_syms", "query_module", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
        "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot",
        "clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "stime",
        "acct", "lookup_dcookie", "quotactl", "quotactl_fd", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
        "vhangup", "iopl", "ioperm", "vm86", "vm86old", "syslog",
        "mbind", "set_mempolicy", "move_pages", "migrate_pages", "get_mempolicy", "set_mempolicy_home_node",
        "fanotify_init", "lsm_set_self_attr", "listmount", "statmount",
    ]

    /// CLONE_NEW* flags (all in the low 32 bits, which are all the kernel reads of clone's flags): clone
    /// with any of them is refused.
    static let namespaceFlags: [UInt32] = [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000, 0x0000_0080]
    /// Socket families allowed: AF_UNIX (1), AF_INET (2), AF_INET6 (10), AF_NETLINK (16). Every other
    /// value (packet, vsock, alg, key, bluetooth, …, and families kernels add later) answers EPERM.
    static let allowedFamilies: Set<UInt32> = [1, 2, 10, 16]
    static let netlinkFamily: UInt32 = 16
    static let unixFamily: UInt32 = 1
    /// Netlink protocols allowed: NETLINK_ROUTE (0: interfaces and addresses, which glibc's getifaddrs
    /// and if_nameindex read; only `lo` to see) and NETLINK_SOCK_DIAG (4: the run's own sockets, for
    /// `ss`). Every other protocol answers EPERM; among them NETLINK_KOBJECT_UEVENT (15), over which the
    /// kernel broadcasts the host's device events to every network namespace of the initial user
    /// namespace, a run's included.
    static let allowedNetlinkProtocols: Set<UInt32> = [0, 4]
    /// TIOCSTI and TIOCLINUX: terminal input injection.
    static let deniedIoctls: [UInt32] = [0x5412, 0x541C]
    /// personality: Docker's allowed values, PER_LINUX with at most UNAME26 (0x8) and PER_LINUX32
    /// (0x20000), and the query 0xffffffff, which changes nothing.
    static let allowedPersonalities: Set<UInt32> = [0, 0x8, 0x20000, 0x20008, 0xffff_ffff]

    public static func build(extraDenied: [String]) throws -> SeccompProfile {
        SeccompProfile(bpf: pack([try allowList(extraDenied: extraDenied), try argumentFilter()]))
    }

    /// The calls a run may make: allowed, denied with EPERM (the built-in list and the policy's), or
    /// ENOSYS by default.
    static func allowList(extraDenied: [String]) throws -> [UInt8] {
        try filter(defaultAction: cseccomp_act_errno(UInt16(ENOSYS))) { ctx in
            let eperm = cseccomp_act_errno(UInt16(EPERM))
            var denied = Set<Int32>()
            for name in deniedSyscalls {
                if let nr = try SystemCallNumber.resolve(name, origin: "the built-in deny list") { denied.insert(nr) }
            }
            for name in extraDenied {
                if let nr = try SystemCallNumber.resolve(name, origin: "the policy's deny list") { denied.insert(nr) }
            }
            for nr in denied.sorted() { try rule(ctx, eperm, nr, []) }
            var allowed = Set<Int32>()
            for name in SeccompAllowList.names {
                if let nr = try SystemCallNumber.resolve(name, origin: "the allow-list"), !denied.contains(nr) { allowed.insert(nr) }
            }
            for nr in allowed.sorted() { try rule(ctx, cseccomp_act_allow(), nr, []) }
        }
    }

    /// The rules on the arguments of allowed calls, each answering EPERM; everything else passes here.
    static func argumentFilter() throws -> [UInt8] {
        try filter(defaultAction: cseccomp_act_allow()) { ctx in
            let eperm = cseccomp_act_errno(UInt16(EPERM))
            let clone = try SystemCallNumber.native("clone")
            for flag in namespaceFlags {
                try rule(ctx, eperm, clone, [LowWord(mask: flag, value: flag).comparison(argument: 0)])
            }
            // A family is a 16-bit sa_family_t (the kernel refuses anything past AF_MAX, today 46); a netlink
            // protocol is below MAX_LINKS, 32 (the kernel refuses the rest). socketpair makes Unix pairs only.
            let socket = try SystemCallNumber.native("socket")
            for family in LowWord.outside(allowedFamilies, bits: 16) {
                try rule(ctx, eperm, socket, [family.comparison(argument: 0)])
            }
            for proto in LowWord.outside(allowedNetlinkProtocols, bits: 5) {
                try rule(ctx, eperm, socket, [LowWord.exactly(netlinkFamily).comparison(argument: 0), proto.comparison(argument: 2)])
            }
            for family in LowWord.outside([unixFamily], bits: 16) {
                try rule(ctx, eperm, try SystemCallNumber.native("socketpair"), [family.comparison(argument: 0)])
            }
            let ioctl = try SystemCallNumber.native("ioctl")
            for command in deniedIoctls {
                try rule(ctx, eperm, ioctl, [LowWord.exactly(command).comparison(argument: 1)])
            }
            try lockCoreLimit(ctx, eperm)
            let personality = try SystemCallNumber.native("personality")
            for value in LowWord.outside(allowedPersonalities) {
                try rule(ctx, eperm, personality, [value.comparison(argument: 0)])
            }
        }
    }

    /// A filter made by `rules`, exported as BPF. A binary search over system call numbers instead of a
    /// list: fewer instructions for each call the program makes, and far less work for the kernel when it
    /// installs the filter (it emulates the filter for every system call number of every architecture to
    /// build its allow cache; with the list, that was a measurable part of every run's start, BENCHMARKS.md).
    private static func filter(defaultAction: UInt32, _ rules: (scmp_filter_ctx) throws -> Void) throws -> [UInt8] {
        guard let ctx = seccomp_init(defaultAction) else { throw SandboxError.unavailable("libseccomp: seccomp_init failed") }
        defer { seccomp_release(ctx) }
        guard seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) == 0 else {
            throw SandboxError.unavailable("libseccomp: cannot build a binary-tree filter (SCMP_FLTATR_CTL_OPTIMIZE needs libseccomp 2.5)")
        }
        try rules(ctx)
        return try export(ctx)
    }

    /// The filters, each after its header, as glovebox-init reads them.
    static func pack(_ filters: [[UInt8]]) -> [UInt8] {
        filters.flatMap { filter -> [UInt8] in
            let count = UInt32(filter.count / 8)
            return [0, 0, 0, 0] + withUnsafeBytes(of: count.littleEndian, Array.init) + filter
        }
    }

    /// RLIMIT_CORE stays at the 1 byte a run starts with (RunResourceLimits), which the kernel reads as "no
    /// core dump", also for a core_pattern that pipes to a program on the host: lowered to 0, the core of
    /// a crashing run would reach that program, which ignores 0. Reading the limit stays allowed.
    ///
    /// Setting it succeeds and changes nothing (an errno of 0 is the call's return value, 0, without the
    /// call being made): programs and test harnesses lower it to 0 to have no core dumps (`ulimit -c 0`,
    /// NumPy's tests), which 1 already gives them, and raising it past the hard limit of 1 could not
    /// succeed anyway. Only a prlimit64 that also asks for the old value is refused (EPERM), since the
    /// value it would be given back was never written.
    static let coreLimit: UInt32 = 4  // RLIMIT_CORE

    private static func lockCoreLimit(_ ctx: scmp_filter_ctx, _ eperm: UInt32) throws {
        let unchanged = cseccomp_act_errno(0)
        if let setrlimit = try SystemCallNumber.resolve("setrlimit", origin: "the core-limit rules") {  // none on aarch64
            try rule(ctx, unchanged, setrlimit, [LowWord.exactly(coreLimit).comparison(argument: 0)])
        }
        // prlimit64(pid, resource, new_limit, old_limit): the limits are pointers, all 64 bits of them.
        let prlimit = try SystemCallNumber.native("prlimit64")
        let core = LowWord.exactly(coreLimit).comparison(argument: 1)
        let setting = scmp_arg_cmp(arg: 2, op: SCMP_CMP_NE, datum_a: 0, datum_b: 0)
        try rule(ctx, unchanged, prlimit, [core, setting, scmp_arg_cmp(arg: 3, op: SCMP_CMP_EQ, datum_a: 0, datum_b: 0)])
        try rule(ctx, eperm, prlimit, [core, setting, scmp_arg_cmp(arg: 3, op: SCMP_CMP_NE, datum_a: 0, datum_b: 0)])
    }

    private static func rule(_ ctx: scmp_filter_ctx, _ action: UInt32, _ nr: Int32, _ args: [scmp_arg_cmp]) throws {
        let rc = args.withUnsafeBufferPointer { cseccomp_rule_add(ctx, action, nr, UInt32(args.count), $0.baseAddress) }
        if rc < 0 {
            throw SandboxError.unavailable("libseccomp refused a rule for \(SystemCallNumber.name(of: nr)): \(String(cString: strerror(-rc)))")
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
