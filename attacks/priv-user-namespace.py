# Tries: a nested user namespace (root with every capability inside it), by unshare, clone (also with the
# flags' upper 32 bits set, which the kernel ignores) and clone3, and setns (here into the run's own network
# namespace, the only one it can open).
# Expected: EPERM for unshare, both clones and setns (seccomp); ENOSYS for clone3 (seccomp, so that libc
# falls back to clone, whose flags the filter can see).
import ctypes, os
from _common import NR, call, errname, libc, result
def clone(flags):
    rc = libc.syscall(ctypes.c_long(NR["clone"]), ctypes.c_long(flags), 0, 0, 0, 0)
    if rc == 0:
        os._exit(0)  # the child, had the clone been allowed
    return "ok" if rc > 0 else errname(ctypes.get_errno())
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
result("unshare:" + call("unshare", 0x10000000), "clone:" + clone(0x10000000 | 17),  # CLONE_NEWUSER|SIGCHLD
       "clone-high:" + clone((0xffffffff << 32) | 0x10000000 | 17), "clone3:" + call("clone3", 0, 0),
       "setns:" + call("setns", fd, 0))
