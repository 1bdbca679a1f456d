# Tries: system calls ordinary programs do not make, which a deny list would let through: a newer LSM call
# (lsm_get_self_attr, Linux 6.8), another process's descriptors (pidfd_getfd), advice on another
# process's memory (process_madvise), a number no kernel has assigned yet (1000), and an old one
# (vhangup is on the deny list: EPERM, for comparison).
# Expected: ENOSYS for each unlisted call, from seccomp's allow-list (the kernel would answer EINVAL or
# EBADF for these arguments), so a program falls back as on an older kernel.
import ctypes
from _common import errname, libc, result
def call(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "ok" if rc >= 0 else errname(ctypes.get_errno())
result("lsm_get_self_attr:" + call(459, 0, 0, 0, 0), "pidfd_getfd:" + call(438, -1, 0, 0),
       "process_madvise:" + call(440, -1, 0, 0, 0, 0), "future-call:" + call(1000), "vhangup:" + call(153))
