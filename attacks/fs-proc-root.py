# Tries: to reach another root through /proc: init's /proc/1/root and /proc/1/cwd, and /proc/self/root
# up to the host's /etc/shadow.
# Expected: EACCES for init's (non-dumpable); ENOENT through our own root, which is the run's root.
import os
from _common import oserror, result
result("init-root:" + oserror(os.listdir, "/proc/1/root"), "init-cwd:" + oserror(os.listdir, "/proc/1/cwd/"),
       "self-root:" + oserror(open, "/proc/self/root/../../etc/shadow"))
