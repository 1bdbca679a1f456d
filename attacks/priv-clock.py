# Tries: to set the system clock (shared by the host and every run): clock_settime, settimeofday, adjtimex.
# Expected: EPERM for each, from seccomp.
import ctypes
from _common import call, result
ts = (ctypes.c_long * 2)(0, 0)
tx = ctypes.create_string_buffer(208)
ctypes.memmove(tx, (ctypes.c_uint * 1)(1), 4)  # ADJ_OFFSET: a write, not a read
result("clock_settime:" + call("clock_settime", 0, ts), "settimeofday:" + call("settimeofday", ts, 0),
       "adjtimex:" + call("adjtimex", tx))
