# Tries: the host's setuid-root programs (su, passwd, mount, newgrp) visible under /usr/bin.
# Expected: /usr is mounted nosuid and the run has no_new_privs, so nothing elevates: `su` fails (exit 1,
# there is no /etc/passwd either) and `mount` runs as the run's uid and is refused.
import os, subprocess
from _common import result
flags = "nosuid" if os.statvfs("/usr/bin/su").f_flag & os.ST_NOSUID else "suid"
su = subprocess.run(["/usr/bin/su", "-c", "id -u", "root"], capture_output=True)
mount = subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "x", "/tmp"], capture_output=True)
result(flags, "su:exit%d" % su.returncode, "su-stdout:" + (su.stdout.decode().strip() or "none"), "mount:exit%d" % mount.returncode)
