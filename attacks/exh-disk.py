# Tries: to fill the disk through /tmp (run at --storage 8MiB).
# Expected: ENOSPC at the run's storage cap (a size-capped volume of its own); "storage" in limits_hit.
from _common import oserror, result
def fill():
    with open("/tmp/fill", "wb") as f:
        for _ in range(64):
            f.write(b"x" * (1 << 20)); f.flush()
result("write:" + oserror(fill))
