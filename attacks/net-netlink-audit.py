# Tries: the kernel audit subsystem over NETLINK_AUDIT (AUDIT_GET), to read or switch off auditing.
# Expected: the socket opens (netlink is an allowed family) but the request is refused with EPERM:
# audit control needs CAP_AUDIT_CONTROL in the initial user namespace.
import socket, struct
from _common import oserror, result
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)  # NETLINK_AUDIT
s.settimeout(2)
s.send(struct.pack("=IHHII", 16, 1000, 0x5, 1, 0))  # AUDIT_GET, NLM_F_REQUEST|NLM_F_ACK
reply = s.recv(4096)
length, kind = struct.unpack_from("=IH", reply)
code = -struct.unpack_from("=i", reply, 16)[0] if kind == 2 else 0  # NLMSG_ERROR carries -errno
result("audit-get:" + (__import__("errno").errorcode.get(code, str(code)) if kind == 2 else "answered"))
