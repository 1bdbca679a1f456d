# Tries: to read what /proc shows of the host's kernel rather than of the run: its memory (kcore), keys,
# timers, scheduler, configuration and symbols, and hardware directories (acpi, asound, scsi); and to write
# a file under /proc/fs (the first one there that opens, with O_TRUNC, which checks the mount first).
# Expected: every file that exists reads as empty (masked with /dev/null), every directory lists nothing
# (an empty read-only tmpfs), and /proc/fs is read-only (EROFS). A path the kernel lacks is left out.
import os
from _common import errname, result
files = ["kcore", "keys", "key-users", "latency_stats", "timer_list", "timer_stats", "sched_debug", "config.gz", "kallsyms"]
directories = ["acpi", "asound", "scsi"]
leaked = []
for name in files:
    path = "/proc/" + name
    if not os.path.exists(path):
        continue
    try:
        with open(path, "rb") as f:
            if f.read(64):
                leaked.append(name)
    except OSError as e:
        leaked.append(name + "=" + errname(e.errno))
for name in directories:
    if os.path.isdir("/proc/" + name) and os.listdir("/proc/" + name):
        leaked.append(name)
def readable(path):
    try:
        os.close(os.open(path, os.O_RDONLY))
        return True
    except OSError:
        return False
first = next((p for d, _, names in os.walk("/proc/fs") for p in (os.path.join(d, f) for f in sorted(names)) if readable(p)), None)
if first is None:
    fs = "empty"
else:
    try:
        os.close(os.open(first, os.O_WRONLY | os.O_TRUNC))
        fs = "ok"
    except OSError as e:
        fs = errname(e.errno)
result("leaked:" + ("+".join(leaked) or "none"), "proc-fs:" + fs)
