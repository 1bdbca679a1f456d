# Tries: to weaken the run's init (pid 1, which reaps the run and reports its status) without signals:
# lower its open-file limit with prlimit, renice it, pin it to one CPU, lower its I/O priority.
# Expected: EPERM for each: init runs as a uid of its own, and the kernel lets a process change another's
# limits, priority or affinity only where the uids match (or with capabilities, which the run has none of).
import ctypes, os
from _common import errname, libc, result
limit = (ctypes.c_ulong * 2)(1, 1)
prlimit = "ok" if libc.prlimit(1, 7, limit, None) == 0 else errname(ctypes.get_errno())  # RLIMIT_NOFILE
def oserr(fn, *args):
    try:
        fn(*args)
        return "ok"
    except OSError as e:
        return errname(e.errno)
ioprio = "ok" if libc.syscall(ctypes.c_long(251), 1, 1, (3 << 13) | 7) == 0 else errname(ctypes.get_errno())  # ioprio_set: IDLE class
result("prlimit:" + prlimit, "renice:" + oserr(os.setpriority, os.PRIO_PROCESS, 1, 19),
       "affinity:" + oserr(os.sched_setaffinity, 1, {0}), "ioprio:" + ioprio)
