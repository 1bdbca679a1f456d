# Tries: raw IP, packet (AF_PACKET), AF_VSOCK (to the hypervisor) and AF_ALG (kernel crypto) sockets.
# Expected: EPERM for each: raw needs CAP_NET_RAW (none), and seccomp refuses every family but Unix,
# IPv4, IPv6 and netlink.
import socket
from _common import oserror, result
result("raw:" + oserror(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
       "packet:" + oserror(socket.socket, 17, socket.SOCK_RAW, 0),
       "vsock:" + oserror(socket.socket, 40, socket.SOCK_STREAM, 0),
       "alg:" + oserror(socket.socket, 38, socket.SOCK_SEQPACKET, 0))
