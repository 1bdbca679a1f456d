# Tries: to read the host's secrets: /etc/shadow, root's and users' home directories, SSH host keys.
# Expected: ENOENT for each: the run's root holds only the policy's read-only paths (/usr, /etc/alternatives, ...).
import os
from _common import oserror, result
result("shadow:" + oserror(open, "/etc/shadow"), "root:" + oserror(os.listdir, "/root"),
       "home:" + oserror(os.listdir, "/home"), "ssh:" + oserror(os.listdir, "/etc/ssh"))
