# Tries: a nested user namespace (root with every capability inside it), by unshare, clone and clone3,
# and setns (here into the run's own network namespace, the only one it can open).
# Expected: EPERM for unshare, clone(CLONE_NEWUSER) and setns (seccomp); ENOSYS for clone3 (seccomp, so
# that libc falls back to clone, whose flags the filter can see).
import ctypes, os
from _common import NR, call, errname, libc, result
rc = libc.syscall(ctypes.c_long(NR["clone"]), ctypes.c_long(0x10000000 | 17), 0, 0, 0, 0)  # CLONE_NEWUSER|SIGCHLD
if rc == 0:
    os._exit(0)  # the child, had the clone been allowed
clone = "ok" if rc > 0 else errname(ctypes.get_errno())
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
result("unshare:" + call("unshare", 0x10000000), "clone:" + clone, "clone3:" + call("clone3", 0, 0),
       "setns:" + call("setns", fd, 0))
