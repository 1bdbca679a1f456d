# Tries (runc CVE-2024-21626): to find a descriptor leaked by the supervisor or the client (a host
# directory, the daemon's socket, the database) among its open files.
# Expected: only 0, 1 and 2 are open, and none of them is a directory or a socket.
import os, stat
from _common import result
open_fds = [fd for fd in range(0, 4096) if os.path.exists("/proc/self/fd/%d" % fd)]
kinds = {fd: stat.S_IFMT(os.fstat(fd).st_mode) for fd in open_fds}
dangerous = [fd for fd, k in kinds.items() if k in (stat.S_IFDIR, stat.S_IFSOCK)]
result("fds:" + "+".join(map(str, open_fds)), "dirs-or-sockets:" + ("+".join(map(str, dangerous)) or "none"))
