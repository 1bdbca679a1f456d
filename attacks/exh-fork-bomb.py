# Tries: a fork bomb: every process forks as fast as it can (run at --pids 32).
# Expected: fork fails with EAGAIN at the run's pids limit (the cgroup's pids.max); the record lists
# "pids" in limits_hit, the host and the daemon carry on. The bomb stops after 2 s so that the run ends "ok".
import os, time
from _common import errname, result
deadline, failure = time.monotonic() + 2, None
while time.monotonic() < deadline:
    try:
        if os.fork() == 0:
            continue  # the child bombs too
    except OSError as e:
        failure = errname(e.errno); time.sleep(0.01)
if os.getpid() == 2:  # only the original program reports; the others end with it
    result("fork:" + str(failure))
    os.kill(-1, 9)
os._exit(0)
