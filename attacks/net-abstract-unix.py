# Tries: an abstract Unix socket the host listens on (name in argv[1], like many host daemons use).
# Expected: ECONNREFUSED: abstract socket names belong to the network namespace, and the run's is empty.
import socket, sys
from _common import oserror, result
result(oserror(socket.socket(socket.AF_UNIX).connect, "\0" + sys.argv[1]))
