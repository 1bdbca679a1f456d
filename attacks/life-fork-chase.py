# Tries: to escape the kill by never being the same process: a chain in a session of its own where each
# generation forks its successor and exits at once (so a pid list is always stale), while the program
# itself sleeps (when the program exits, the run ends at once). argv[1] is a marker for the test.
# Expected: the run reaches its timeout ("timeout"): the whole cgroup and pid namespace die together and
# no process of the chain exists on the host afterwards.
import os, sys, time
from _common import result
result("chasing")
if os.fork() != 0:
    time.sleep(30)
    os._exit(0)
os.setsid()
while True:
    try:
        if os.fork() != 0:
            os._exit(0)
    except OSError:
        time.sleep(0.01)
