# Tries: kernel tunables: /proc/sys/kernel/core_pattern (a host-root pipe helper on the next crash),
# /proc/sys/kernel/hostname, the world-writable /proc/sys/kernel/ns_last_pid, and /proc/sysrq-trigger.
# Expected: EROFS for each: /proc/sys and /proc/sysrq-trigger are mounted read-only, and opening with
# O_TRUNC ("w") checks the mount before the file's mode (ns_last_pid is mode 0666). On a kernel built
# without CONFIG_MAGIC_SYSRQ (the host has no /proc/sysrq-trigger) the last is ENOENT.
from _common import oserror, result
result("core_pattern:" + oserror(open, "/proc/sys/kernel/core_pattern", "w"),
       "hostname:" + oserror(open, "/proc/sys/kernel/hostname", "w"),
       "ns_last_pid:" + oserror(open, "/proc/sys/kernel/ns_last_pid", "w"),
       "sysrq:" + oserror(open, "/proc/sysrq-trigger", "w"))
