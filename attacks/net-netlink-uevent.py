# Tries: to listen to the kernel's device events (NETLINK_KOBJECT_UEVENT, group 1) for 3 seconds.
# The kernel delivers uevents to every network namespace owned by the initial user namespace, which the
# run's is, so a host device event (the test writes "change" to /dev/null's uevent file meanwhile) would be
# seen inside. Expected: the seccomp filter refuses the socket, EPERM.
import errno, socket
from _common import result
try:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
except OSError as e:
    result("socket:" + errno.errorcode[e.errno])
    raise SystemExit(0)
s.bind((0, 1))
s.settimeout(3)
try:
    fields = s.recv(65536).split(b"\0")
    result("received:" + fields[0].decode(errors="replace").split("@")[0])
except socket.timeout:
    result("received:nothing")
