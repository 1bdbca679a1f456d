import Policy
#if canImport(Glibc)
import Glibc
#endif

/// Who may use a policy: root always; otherwise the client's uid or user name in `users` ("*" is
/// everyone), or one of its groups (by name or gid) in `groups`.
enum Authorization {
    static func allows(_ policy: Policy, uid: uid_t, gid: gid_t) -> Bool {
        if uid == 0 || policy.users.contains("*") { return true }
        let name = userName(uid)
        if policy.users.contains(String(uid)) || (name.map { policy.users.contains($0) } ?? false) { return true }
        if policy.groups.isEmpty { return false }
        for group in groups(of: name, primary: gid) {
            if policy.groups.contains(String(group)) || (groupName(group).map { policy.groups.contains($0) } ?? false) { return true }
        }
        return false
    }

    static func userName(_ uid: uid_t) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: pwd.pw_name)
    }

    static func groupName(_ gid: gid_t) -> String? {
        var grp = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrgid_r(gid, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: grp.gr_name)
    }

    static func groups(of user: String?, primary: gid_t) -> [gid_t] {
        guard let user else { return [primary] }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primary, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, primary, &list, &count)
        }
        return Array(list.prefix(Int(max(0, count))))
    }

    /// A group name or numeric gid, resolved.
    static func groupID(_ group: String) -> gid_t? {
        if let gid = gid_t(group) { return gid }
        var grp = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(group, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    /// A user or group whose id falls in `range`, named ("user alice (uid 1900000003)"), or nil. Runs use
    /// these ids as uid and gid; a real owner would lend them its files.
    static func firstTakenID(in range: Range<UInt32>) -> String? {
        setpwent()
        defer { endpwent() }
        while let pw = getpwent() {
            if range.contains(pw.pointee.pw_uid) { return "user \(String(cString: pw.pointee.pw_name)) (uid \(pw.pointee.pw_uid))" }
        }
        setgrent()
        defer { endgrent() }
        while let gr = getgrent() {
            if range.contains(gr.pointee.gr_gid) { return "group \(String(cString: gr.pointee.gr_name)) (gid \(gr.pointee.gr_gid))" }
        }
        return nil
    }
}
