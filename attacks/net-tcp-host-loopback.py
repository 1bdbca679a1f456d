# Tries: a TCP connection to a service the host listens on at 127.0.0.1:PORT (argv[1]).
# Expected: ECONNREFUSED. The run has a network namespace of its own: its 127.0.0.1 is another loopback.
import socket
from _common import oserror, result
s = socket.socket(); s.settimeout(2)
result(oserror(s.connect, ("127.0.0.1", int(__import__("sys").argv[1]))))
