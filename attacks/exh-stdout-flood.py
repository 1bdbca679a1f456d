# Tries: to flood the client and the daemon with 200 MiB of stdout as fast as it can.
# Expected: everything reaches the client (the live stream is never cut), the daemon keeps serving other
# clients meanwhile (the test runs one alongside), and the run ends "ok".
import os
from _common import result
chunk = b"A" * 1023 + b"\n"
block = chunk * 1024  # 1 MiB
for _ in range(200):
    os.write(1, block)
result("flooded")
