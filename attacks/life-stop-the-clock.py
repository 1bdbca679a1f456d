# Tries: to extend its time limit: stop its init (SIGSTOP to pid 1), set the clock back a day, then sleep.
# Expected: SIGSTOP to init is EPERM (init runs as a uid of its own), clock_settime is EPERM; the run ends
# at its timeout ("timeout", 1 s).
import ctypes, os, signal, time
from _common import call, oserror, result
ts = (ctypes.c_long * 2)(int(time.time()) - 86400, 0)
result("sigstop-init:" + oserror(os.kill, 1, signal.SIGSTOP), "clock_settime:" + call("clock_settime", 0, ts))
time.sleep(30)
