# Tries: the kernel audit subsystem over NETLINK_AUDIT (AUDIT_GET), to read or switch off auditing.
# Expected: seccomp refuses the socket, EPERM: netlink is allowed for NETLINK_ROUTE and NETLINK_SOCK_DIAG
# only. (Were the socket open, the request would be refused with EPERM too: audit control needs
# CAP_AUDIT_CONTROL in the initial user namespace.)
import errno, socket, struct
from _common import result
try:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)  # NETLINK_AUDIT
except OSError as e:
    result("socket:" + errno.errorcode[e.errno])
    raise SystemExit(0)
s.settimeout(2)
s.send(struct.pack("=IHHII", 16, 1000, 0x5, 1, 0))  # AUDIT_GET, NLM_F_REQUEST|NLM_F_ACK
reply = s.recv(4096)
length, kind = struct.unpack_from("=IH", reply)
code = -struct.unpack_from("=i", reply, 16)[0] if kind == 2 else 0  # NLMSG_ERROR carries -errno
result("audit-get:" + (errno.errorcode.get(code, str(code)) if kind == 2 else "answered"))
