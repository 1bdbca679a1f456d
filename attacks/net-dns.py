# Tries: to resolve a public name, and localhost.
# Expected: the public name fails with EAI_AGAIN: there is no /etc/resolv.conf, so glibc falls back to a
# resolver on 127.0.0.1:53, which is the run's own loopback where nothing listens. localhost resolves,
# from the run's own /etc/hosts, to that same loopback.
import socket
from _common import result
def resolve(name):
    try:
        socket.getaddrinfo(name, 80); return "resolved"
    except socket.gaierror as e:
        return {v: k for k, v in vars(socket).items() if k.startswith("EAI_")}.get(e.errno, str(e.errno))
result("example.com:" + resolve("example.com"), "localhost:" + resolve("localhost"))
