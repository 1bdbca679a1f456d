import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Who the run's processes are, to programs that ask (getpwuid, getpass.getuser, `id`, `whoami`): a
/// passwd and a group file of the run's own, naming its uid "glovebox", with root and nobody. Written
/// into the run's directory and bound read-only at /etc/passwd and /etc/group (MountPlan), unless the
/// policy shows the host's.
public enum RunIdentity {
    public static let userName = "glovebox"

    /// Where the two files of a run are.
    public struct Files: Sendable, Hashable {
        public var passwd: String
        public var group: String
    }

    /// Writes the run's passwd and group into `directory`. `home`: the run's HOME.
    public static func write(in directory: String, uid: uid_t, gid: gid_t, home: String) throws -> Files {
        let files = Files(passwd: directory + "/passwd", group: directory + "/group")
        try FileIO.write(files.passwd, """
            root:x:0:0:root:/root:/usr/sbin/nologin
            nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
            \(userName):x:\(uid):\(gid):glovebox run:\(home):/bin/sh

            """, create: true)
        try FileIO.write(files.group, """
            root:x:0:
            nogroup:x:65534:
            \(userName):x:\(gid):

            """, create: true)
        return files
    }
}
