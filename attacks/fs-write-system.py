# Tries: to plant files in /usr and /etc, and to create a file at the root.
# Expected: EROFS for each: the root and every policy path are mounted read-only.
from _common import oserror, result
result("usr:" + oserror(open, "/usr/bin/glovebox-attack", "w"), "etc:" + oserror(open, "/etc/cron.d-attack", "w"),
       "root:" + oserror(open, "/attack", "w"))
