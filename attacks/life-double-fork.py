# Tries: to outlive the run: a grandchild in a new session (double fork + setsid) that ignores every
# signal, and a nohup'ed sleeper, both named with a marker (argv[1]); then the program exits at once.
# Expected: the run ends "ok" and the kernel kills everything left in the pid namespace when init exits:
# no process with the marker exists on the host afterwards.
import os, signal, sys, time
from _common import result
marker = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in range(1, 65):
            try: signal.signal(s, signal.SIG_IGN)
            except (OSError, ValueError): pass
        os.execv("/bin/sh", ["sh", "-c", "sleep 30", marker])
    os._exit(0)
if os.fork() == 0:
    os.execv("/usr/bin/nohup", ["nohup", "/bin/sh", "-c", "sleep 30", marker])
time.sleep(0.3)
result("detached")
