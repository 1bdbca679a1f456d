# Tries: to resolve a public name and a well-known local one.
# Expected: both fail with EAI_AGAIN-style errors: there is no /etc/resolv.conf, /etc/hosts or nsswitch.conf,
# glibc falls back to a resolver on 127.0.0.1:53, which is the run's own loopback where nothing listens.
import socket
from _common import result
def resolve(name):
    try:
        socket.getaddrinfo(name, 80); return "resolved"
    except socket.gaierror as e:
        return {v: k for k, v in vars(socket).items() if k.startswith("EAI_")}.get(e.errno, str(e.errno))
result("example.com:" + resolve("example.com"), "localhost:" + resolve("localhost"))
