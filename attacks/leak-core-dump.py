# Tries: to have its memory written out by the host's crash handler. Where kernel.core_pattern pipes cores
# to a program on the host ("|..."), the kernel ignores RLIMIT_CORE 0 and runs that program, as root, on
# the core of any crashing process. So: lower RLIMIT_CORE to 0 (setrlimit, and prlimit64 on itself), then
# crash with SIGSEGV. The test sets a pipe core_pattern whose program leaves a mark if it ever runs.
# Expected: the limit is 1 byte, soft and hard (the kernel's "no core dump", for pipes too); lowering it is
# EPERM (seccomp); the run ends by SIGSEGV and the host's handler never runs.
import ctypes, os, resource, signal
from _common import errname, libc, result
soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
zero = (ctypes.c_ulong * 2)(0, 0)
libc.setrlimit.argtypes = [ctypes.c_int, ctypes.c_void_p]
set_ = "ok" if libc.setrlimit(4, zero) == 0 else errname(ctypes.get_errno())
prlimit = "ok" if libc.prlimit(0, 4, zero, None) == 0 else errname(ctypes.get_errno())
result(f"limit:{soft}/{hard}", "setrlimit:" + set_, "prlimit:" + prlimit)
os.kill(os.getpid(), signal.SIGSEGV)
