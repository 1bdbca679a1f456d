# Tries: to have its memory written out by the host's crash handler. Where kernel.core_pattern pipes cores
# to a program on the host ("|..."), the kernel ignores RLIMIT_CORE 0 and runs that program, as root, on
# the core of any crashing process. So: lower RLIMIT_CORE to 0 (setrlimit, and prlimit64 on itself, also
# asking for the old value), read it back, then crash with SIGSEGV. The test sets a pipe core_pattern
# whose program leaves a mark if it ever runs.
# Expected: the limit is 1 byte, soft and hard (the kernel's "no core dump", for pipes too); setting it
# succeeds and changes nothing (seccomp answers 0 without making the call: 1 already means no core dump),
# a prlimit64 that asks for the old value is EPERM; the limit is still 1/1; the run ends by SIGSEGV and the
# host's handler never runs.
import ctypes, os, resource, signal
from _common import errname, libc, result
soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
zero = (ctypes.c_ulong * 2)(0, 0)
old = (ctypes.c_ulong * 2)(7, 7)
libc.setrlimit.argtypes = [ctypes.c_int, ctypes.c_void_p]
set_ = "ok" if libc.setrlimit(4, zero) == 0 else errname(ctypes.get_errno())
prlimit = "ok" if libc.prlimit(0, 4, zero, None) == 0 else errname(ctypes.get_errno())
swap = "ok" if libc.prlimit(0, 4, zero, old) == 0 else errname(ctypes.get_errno())
after = "%d/%d" % resource.getrlimit(resource.RLIMIT_CORE)
result(f"limit:{soft}/{hard}", "setrlimit:" + set_, "prlimit:" + prlimit, "prlimit-old:" + swap, "after:" + after)
os.kill(os.getpid(), signal.SIGSEGV)
