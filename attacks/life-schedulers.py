# Tries: to schedule a relaunch after the run: at, batch, crontab, and systemd-run (a transient unit).
# Expected: at, batch and crontab are absent (ENOENT); systemd-run exists under /usr but reaches no
# systemd (no /run, no D-Bus): it exits 1.
import subprocess
from _common import result
def attempt(argv):
    try:
        return "exit%d" % subprocess.run(argv, capture_output=True, timeout=5).returncode
    except FileNotFoundError:
        return "ENOENT"
result("at:" + attempt(["at", "now"]), "batch:" + attempt(["batch"]), "crontab:" + attempt(["crontab", "-l"]),
       "systemd-run:" + attempt(["systemd-run", "--on-active=60", "/bin/true"]))
