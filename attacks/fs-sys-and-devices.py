# Tries: /sys (cgroup release_agent, device attributes), the kernel log (/dev/kmsg), physical memory
# (/dev/mem), a disk (/dev/sda), and to make a block device node of the host's first disk.
# Expected: ENOENT for every path (no /sys; /dev holds only null, zero, full, random, urandom), and EPERM
# for mknod (no CAP_MKNOD).
import os
from _common import oserror, result
result("sys:" + oserror(os.listdir, "/sys"), "kmsg:" + oserror(open, "/dev/kmsg"), "mem:" + oserror(open, "/dev/mem"),
       "sda:" + oserror(open, "/dev/sda"), "mknod:" + oserror(os.mknod, "/tmp/sda", 0o600 | 0o060000, os.makedev(8, 0)))
