import CCap

/// The capabilities gloveboxd itself needs to build sandboxes. Root in a container without them would
/// otherwise fail run by run, or worse, half-way; the daemon checks once at start and refuses to serve.
public enum HostCapabilities {
    static let required: [(cap_value_t, String, String)] = [
        (CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "namespaces, mounts, pivot_root, seccomp setup"),
        (CAP_SETUID, "CAP_SETUID", "running programs as a sandbox uid"),
        (CAP_SETGID, "CAP_SETGID", "running programs as a sandbox gid"),
        (CAP_SETPCAP, "CAP_SETPCAP", "emptying the capability bounding set"),
        (CAP_CHOWN, "CAP_CHOWN", "giving the workspace to the sandbox uid"),
        (CAP_NET_ADMIN, "CAP_NET_ADMIN", "bringing up the run's loopback"),
        (CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE", "cgroup and state files"),
        (CAP_KILL, "CAP_KILL", "ending runs"),
        (CAP_FOWNER, "CAP_FOWNER", "a run's chmod in its workspace (overlayfs acts with the daemon's credentials)"),
        (CAP_FSETID, "CAP_FSETID", "keeping set-group-ID bits a run sets in its workspace"),
    ]

    /// "CAP_X (why)" for each required capability missing from the effective set.
    public static func missing() -> [String] {
        guard let effective = effectiveSet() else { return ["(cannot read this process's capabilities)"] }
        return required.filter { !effective.contains($0.0) }.map { "\($0.1) (\($0.2))" }
    }

    /// Whether `cap` is in this process's effective set.
    static func has(_ cap: cap_value_t) -> Bool { effectiveSet()?.contains(cap) ?? false }

    private static func effectiveSet() -> Set<cap_value_t>? {
        guard let caps = cap_get_proc() else { return nil }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var set = Set<cap_value_t>()
        for cap in 0...cap_value_t(CAP_LAST_CAP) {
            var value = cap_flag_value_t(0)
            if cap_get_flag(caps, cap, CAP_EFFECTIVE, &value) == 0 && value == CAP_SET { set.insert(cap) }
        }
        return set
    }
}
