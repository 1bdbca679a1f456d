# Tries: to make the client copy host files or write through links when it collects --output out:
# out/ holds symlinks to /etc/shadow and to the client's home, a hard link to a file of the workdir,
# a FIFO, a socket, and one regular file.
# Expected: all are made inside; only the regular file comes back (links, FIFOs and sockets are left
# behind and named on stderr); a device node cannot even be made (EPERM).
import os, socket
from _common import oserror, result
os.mkdir("out")
os.symlink("/etc/shadow", "out/shadow")
os.symlink("/root", "out/root")
os.link("_common.py", "out/hardlink")
os.mkfifo("out/fifo")
socket.socket(socket.AF_UNIX).bind("out/socket")
open("out/regular", "w").write("ok\n")
result("device:" + oserror(os.mknod, "out/null", 0o666 | 0o020000, os.makedev(1, 3)), "planted")
