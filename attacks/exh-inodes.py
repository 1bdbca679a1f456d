# Tries: to exhaust inodes: empty files in /tmp until creation fails (run at --storage 8MiB).
# Expected: ENOSPC at the volume's inode cap (tmpfs nr_inodes: one per 4 KiB of the cap, 2048 here).
import os
from _common import errname, result
count = 0
try:
    while count < 1_000_000:
        os.close(os.open("/tmp/i%d" % count, os.O_CREAT | os.O_WRONLY, 0o600)); count += 1
    result("create:unlimited")
except OSError as e:
    result("create:" + errname(e.errno), "under-4096:" + str(count < 4096))
