# Tries: to exhaust the kernel's file table: open /dev/null until it fails, then raise RLIMIT_NOFILE.
# Expected: EMFILE at RLIMIT_NOFILE (4096, soft and hard); raising the hard limit is EPERM.
import ctypes, os
from _common import errname, libc, oserror, result
fds = []
try:
    while len(fds) < 100000:
        fds.append(os.open("/dev/null", os.O_RDONLY))
    opened = "unlimited"
except OSError as e:
    opened = errname(e.errno)
limit = (ctypes.c_ulong * 2)(8192, 8192)
raised = "ok" if libc.prlimit(0, 7, limit, None) == 0 else errname(ctypes.get_errno())  # RLIMIT_NOFILE
result("open:" + opened, "highest-fd:" + str(max(fds)), "raise:" + raised)
