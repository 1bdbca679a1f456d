# Tries: the supervisor's own socket (its path on the host is argv[1]), the default /run/glovebox socket,
# and whatever is under /run (D-Bus, systemd, Docker, ...).
# Expected: ENOENT everywhere: the run's root has no /run and no /var; host paths do not exist inside.
import os, socket, sys
from _common import oserror, result
def connect(path):
    return oserror(socket.socket(socket.AF_UNIX).connect, path)
result("daemon:" + connect(sys.argv[1]), "default:" + connect("/run/glovebox/glovebox.sock"),
       "dbus:" + connect("/run/dbus/system_bus_socket"), "run:" + oserror(os.listdir, "/run"))
