# Tries: to find the client's secrets (the test sets GLOVEBOX_ATTACK_SECRET=sk-... in its own environment)
# in its environment, its init's, or its command line.
# Expected: its environment holds only the policy's variables; nothing contains the secret.
import os
from _common import result
mine = open("/proc/self/environ", "rb").read() + open("/proc/self/cmdline", "rb").read()
result("names:" + "+".join(sorted(os.environ)), "secret:" + ("found" if b"sk-glovebox" in mine else "absent"))
