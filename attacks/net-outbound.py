# Tries: TCP to a public address (1.1.1.1:443) and UDP to a public resolver (8.8.8.8:53).
# Expected: ENETUNREACH for both: the only interface is the run's own loopback, with no route out.
import socket
from _common import oserror, result
tcp = socket.socket(); tcp.settimeout(2)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
result("tcp:" + oserror(tcp.connect, ("1.1.1.1", 443)), "udp:" + oserror(udp.sendto, b"x", ("8.8.8.8", 53)))
