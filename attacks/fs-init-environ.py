# Tries: to read the environment and memory of the run's init (pid 1, glovebox-init).
# Expected: EACCES: init runs as a uid of its own and made itself non-dumpable, so /proc/1/environ and
# /proc/1/mem need ptrace rights.
import os
from _common import oserror, result
result("environ:" + oserror(open, "/proc/1/environ", "rb"), "mem:" + oserror(open, "/proc/1/mem", "rb"))
