# Tries: the kernel keyrings (shared by uid across containers): add_key, request_key, keyctl(join session).
# Expected: EPERM for each, from seccomp.
from _common import call, result
result("add_key:" + call("add_key", b"user", b"glovebox", b"x", 1, -3),
       "request_key:" + call("request_key", b"user", b"glovebox", 0, -3),
       "keyctl:" + call("keyctl", 1, 0))  # KEYCTL_JOIN_SESSION_KEYRING
