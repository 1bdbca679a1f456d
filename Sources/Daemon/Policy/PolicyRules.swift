/// The rules for names and paths in a policy. Each check returns nil when fine, else the reason.
enum PolicyRules {
    static let defaultReadOnlyPaths = ["/usr", "/lib", "/lib64", "/bin", "/sbin"]
    static let defaultWorkdir = "/workspace"
    static let maximumReadOnlyPaths = 64
    static let maximumFileBytes = 1 << 20

    /// Host trees that must never be bind-mounted into a sandbox (it gets its own /proc, /dev, /tmp; no /sys, /run).
    static let forbiddenReadOnlyRoots = ["/proc", "/dev", "/sys", "/tmp", "/run"]
    /// Places the workspace must not cover or sit under.
    static let forbiddenWorkdirRoots = ["/proc", "/dev", "/sys", "/tmp", "/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin"]

    /// `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`
    static func templateNameProblem(_ name: String) -> String? {
        let b = Array(name.utf8)
        guard let first = b.first, isAlnum(first) else {
            return "must start with a letter or digit"
        }
        guard b.count <= 64 else { return "is longer than 64 characters" }
        guard b.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return "may contain only letters, digits, '_', '.' and '-'"
        }
        return nil
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`
    static func isEnvironmentName(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard let first = b.first, isAlpha(first) || first == UInt8(ascii: "_") else { return false }
        return b.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") }
    }

    /// `[a-z0-9_]+`
    static func isSyscallName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || isDigit($0) || $0 == UInt8(ascii: "_")
        }
    }

    /// A user or group: "*" (users only, checked by the caller), a numeric id below 2^32-1, or a name
    /// `[A-Za-z_][A-Za-z0-9_.-]*` with an optional final "$", at most 32 characters.
    static func principalProblem(_ s: String) -> String? {
        let b = Array(s.utf8)
        if let first = b.first, isDigit(first) {
            guard b.allSatisfy(isDigit), let id = UInt32(s), id != UInt32.max else { return "is not a valid numeric id" }
            return nil
        }
        var body = b[...]
        if body.last == UInt8(ascii: "$") { body = body.dropLast() }
        guard let first = body.first, isAlpha(first) || first == UInt8(ascii: "_"), b.count <= 32,
              body.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else { return "is not a valid name or numeric id" }
        return nil
    }

    /// Absolute and normalized: no "." or ".." components, no "//", no trailing "/", not "/" itself,
    /// no control characters.
    static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "is not absolute" }
        guard path != "/" else { return "is the root directory" }
        guard path.utf8.count < 4096 else { return "is too long" }
        guard !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return "contains a control character" }
        guard !path.hasSuffix("/") else { return "has a trailing '/'" }
        guard !path.contains("//") else { return "contains '//'" }
        let components = path.split(separator: "/")
        guard !components.contains(where: { $0 == "." || $0 == ".." }) else { return "contains a '.' or '..' component" }
        return nil
    }

    /// True when `path` is `root` or lies under it (both normalized).
    static func isWithin(_ path: String, _ root: String) -> Bool {
        path == root || path.hasPrefix(root + "/")
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    private static func isAlpha(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
    private static func isAlnum(_ b: UInt8) -> Bool { isAlpha(b) || isDigit(b) }
}
