# Tries: to push keystrokes into the client's terminal with TIOCSTI (also with the command's high bits set,
# 0xffffffff00005412, which the kernel truncates to 0x5412) and TIOCLINUX, on fds 0, 1 and 2.
# Expected: EPERM on every fd (seccomp compares the low 32 bits). Without the filter the kernel would
# answer ENOTTY here (the fds are pipes) or inject the bytes on a real terminal.
import ctypes
from _common import errname, libc, result
def ioctl(cmd):
    outcomes = set()
    for fd in (0, 1, 2):
        rc = libc.ioctl(fd, ctypes.c_ulong(cmd), ctypes.c_char_p(b"\x0c"))
        outcomes.add("ok" if rc == 0 else errname(ctypes.get_errno()))
    return "/".join(sorted(outcomes))
result("tiocsti:" + ioctl(0x5412), "tiocsti-high:" + ioctl(0xffffffff00005412),
       "tioclinux:" + ioctl(0x541C), "tioclinux-high:" + ioctl(0xffffffff0000541C))
