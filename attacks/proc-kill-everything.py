# Tries: kill(-1, SIGKILL), the signal to every process it may signal, after starting a child; then
# SIGKILL and SIGSTOP to its init, pid 1.
# Expected: kill(-1) succeeds but reaches only the run's own processes: the child dies; init, a uid of
# its own, may not be signalled at all (EPERM; were it the same uid, it would ignore SIGKILL and SIGSTOP
# from inside its namespace, SIGNAL_UNKILLABLE). The host, the daemon and the test survive.
import os, signal, time
from _common import oserror, result
child = os.fork()
if child == 0:
    time.sleep(30); os._exit(0)
killall = oserror(os.kill, -1, signal.SIGKILL)
_, status = os.waitpid(child, 0)
child_end = "killed" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else "survived"
init = oserror(os.kill, 1, signal.SIGKILL) + "/" + oserror(os.kill, 1, signal.SIGSTOP)
time.sleep(0.2)
state = open("/proc/1/stat").read().rsplit(")", 1)[1].split()[0]
result("kill-1:" + killall, "child:" + child_end, "kill-init:" + init, "init-state:" + state)
