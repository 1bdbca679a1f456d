# Tries: to enumerate the host's network interfaces over NETLINK_ROUTE (RTM_GETLINK dump).
# Expected: netlink works but answers for the run's own namespace only: the one interface is lo.
import socket, struct
from _common import result
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
s.bind((0, 0))
s.send(struct.pack("=IHHII", 32, 18, 0x301, 1, 0) + struct.pack("=BxHiII", 0, 0, 0, 0, 0))  # RTM_GETLINK, NLM_F_DUMP
names, done = [], False
while not done:
    data = s.recv(65536)
    off = 0
    while off < len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if kind == 3: done = True; break  # NLMSG_DONE
        attr = off + 16 + 16
        while attr < off + length:
            alen, atype = struct.unpack_from("=HH", data, attr)
            if atype == 3: names.append(data[attr + 4:attr + alen].rstrip(b"\0").decode())  # IFLA_IFNAME
            attr += (alen + 3) & ~3
        off += (length + 3) & ~3
result("links:" + "+".join(names))
