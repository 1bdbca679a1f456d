# Tries: to listen to the kernel's device events (NETLINK_KOBJECT_UEVENT, group 1) for 3 seconds, opening
# the socket plainly and again with the protocol's upper 32 bits set ((1 << 32) | 15, which the kernel
# truncates to 15, an int). The kernel delivers uevents to every network namespace owned by the initial
# user namespace, which the run's is, so a host device event (the test writes "change" to /dev/null's
# uevent file meanwhile) would be seen inside. Expected: the seccomp filter refuses both, EPERM.
import ctypes, errno, socket
from _common import NR, errname, libc, result
try:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
except OSError as e:
    plain = "socket:" + errno.errorcode[e.errno]
else:
    s.bind((0, 1))
    s.settimeout(3)
    try:
        fields = s.recv(65536).split(b"\0")
        plain = "received:" + fields[0].decode(errors="replace").split("@")[0]
    except socket.timeout:
        plain = "received:nothing"
fd = libc.syscall(ctypes.c_long(NR["socket"]), ctypes.c_long(16), ctypes.c_long(2), ctypes.c_long((1 << 32) | 15))
high = "ok" if fd >= 0 else errname(ctypes.get_errno())
result(plain, "socket-high:" + high)
