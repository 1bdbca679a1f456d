# Tries: raw IP, packet (AF_PACKET), AF_VSOCK (to the hypervisor) and AF_ALG (kernel crypto) sockets, and
# each of the last three again with the family's upper 32 bits set (the kernel reads an int: the family is
# the low 32 bits). Expected: EPERM for each: raw needs CAP_NET_RAW (none), and seccomp refuses every
# family but Unix, IPv4, IPv6 and netlink, whatever the upper bits hold.
import ctypes, socket
from _common import NR, errname, libc, oserror, result
def high(family, kind):
    fd = libc.syscall(ctypes.c_long(NR["socket"]), ctypes.c_long((0xffffffff << 32) | family), ctypes.c_long(kind), ctypes.c_long(0))
    return "ok" if fd >= 0 else errname(ctypes.get_errno())
result("raw:" + oserror(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
       "packet:" + oserror(socket.socket, 17, socket.SOCK_RAW, 0),
       "vsock:" + oserror(socket.socket, 40, socket.SOCK_STREAM, 0),
       "alg:" + oserror(socket.socket, 38, socket.SOCK_SEQPACKET, 0),
       "packet-high:" + high(17, socket.SOCK_RAW), "vsock-high:" + high(40, socket.SOCK_STREAM),
       "alg-high:" + high(38, socket.SOCK_SEQPACKET))
