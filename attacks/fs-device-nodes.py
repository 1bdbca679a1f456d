# Tries: to change the host's device nodes through the run's /dev (their inodes are the host's): touch
# /dev/null (times set to now need only write permission, which a 0666 node gives everyone) and change its
# mode; then to execute a program from /dev/shm.
# Expected: EROFS for both changes (the nodes are bound read-only; writing to /dev/null still works), and
# EACCES for the program (/dev/shm is noexec). The test checks that the host's /dev/null is unchanged.
import os, subprocess
from _common import oserror, result
write = oserror(lambda: open("/dev/null", "w").write("x"))
touch = oserror(os.utime, "/dev/null", None)
chmod = oserror(os.chmod, "/dev/null", 0o600)
with open("/dev/shm/run.sh", "w") as f:
    f.write("#!/bin/sh\necho ran\n")
os.chmod("/dev/shm/run.sh", 0o755)
result("write-null:" + write, "touch-null:" + touch, "chmod-null:" + chmod,
       "shm-exec:" + oserror(subprocess.run, ["/dev/shm/run.sh"]))
