import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// System call names resolved to this architecture's numbers, for the seccomp filter.
///
/// libseccomp knows the calls of the kernels before its release (2.5.4, Debian 12's, stops at
/// map_shadow_stack, 453); a newer kernel has more. A name it cannot resolve must never be dropped from a
/// deny list: it is found in `newerCalls` by its number, or the filter is not built and the daemon says
/// why at start.
enum SystemCallNumber {
    /// Calls newer than libseccomp 2.5.4, by number. Since Linux 5.1 every new call has the same number on
    /// x86_64 and aarch64 (the "common" entries of the unified table from 424 on), the architectures this
    /// table is used for.
    static let newerCalls: [String: Int32] = [
        "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456, "statmount": 457, "listmount": 458,
        "lsm_get_self_attr": 459, "lsm_set_self_attr": 460, "lsm_list_modules": 461, "mseal": 462,
        "setxattrat": 463, "getxattrat": 464, "listxattrat": 465, "removexattrat": 466, "open_tree_attr": 467,
        "file_getattr": 468, "file_setattr": 469,
    ]

    /// `name`'s number here; nil when the call does not exist on this architecture (libseccomp knows it
    /// from another one, such as vm86 on x86_64). Throws when neither libseccomp nor `newerCalls` knows it.
    static func resolve(_ name: String, origin: String) throws -> Int32? {
        let nr = seccomp_syscall_resolve_name(name)
        if nr >= 0 { return nr }
        if nr != __NR_SCMP_ERROR { return nil }  // a negative pseudo-number: another architecture's call
        if cseccomp_native_has_unified_numbers() != 0, let number = newerCalls[name] { return number }
        let version = seccomp_version().map { "\($0.pointee.major).\($0.pointee.minor).\($0.pointee.micro)" } ?? "?"
        throw SandboxError.invalid("seccomp: the system call '\(name)' in \(origin) is unknown to libseccomp \(version) "
            + "and to gloveboxd's own table of newer calls on this architecture: it cannot be denied (check the name, or update libseccomp)")
    }

    /// A call every supported architecture has (socket, ioctl, clone, ...).
    static func native(_ name: String) throws -> Int32 {
        guard let nr = try resolve(name, origin: "the filter's argument rules") else {
            throw SandboxError.unavailable("seccomp: '\(name)' does not exist on this architecture")
        }
        return nr
    }

    /// The name of `nr` for messages.
    static func name(of nr: Int32) -> String {
        if let p = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), nr) {
            defer { free(p) }
            return String(cString: p)
        }
        return newerCalls.first { $0.value == nr }?.key ?? "#\(nr)"
    }
}
