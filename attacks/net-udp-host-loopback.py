# Tries: a UDP datagram to a socket the host bound at 127.0.0.1:PORT (argv[1]), then waits for an answer.
# Expected: the send itself succeeds (it lands on the run's own loopback), the reply is ECONNREFUSED
# (ICMP port unreachable from the run's loopback), and no datagram reaches the host's socket.
import socket, sys
from _common import oserror, result
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect(("127.0.0.1", int(sys.argv[1])))
sent = oserror(s.send, b"glovebox-attack")
result("send:" + sent, "recv:" + oserror(s.recv, 100))
