# Tries: to kill the supervisor and the client by their host pids (argv[1], argv[2]).
# Expected: ESRCH for both: those pids do not exist in the run's pid namespace.
import os, signal, sys
from _common import oserror, result
result("daemon:" + oserror(os.kill, int(sys.argv[1]), signal.SIGKILL), "client:" + oserror(os.kill, int(sys.argv[2]), signal.SIGKILL))
