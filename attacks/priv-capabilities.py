# Tries: to raise CAP_SYS_ADMIN with capset, to become root with setuid(0), and to raise an ambient capability.
# Expected: EPERM for each: the run has an empty bounding, permitted and effective set (the kernel refuses).
import ctypes
from _common import call, errname, libc, result
header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
data = (ctypes.c_uint32 * 6)(1 << 21, 1 << 21, 0, 0, 0, 0)  # effective, permitted: CAP_SYS_ADMIN
capset = call("capset", header, data)
setuid = "ok" if libc.setuid(0) == 0 else errname(ctypes.get_errno())
ambient = "ok" if libc.prctl(47, 2, 21, 0, 0) == 0 else errname(ctypes.get_errno())  # PR_CAP_AMBIENT_RAISE
result("capset:" + capset, "setuid0:" + setuid, "ambient:" + ambient)
