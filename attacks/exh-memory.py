# Tries: to take the host's memory: 512 MiB touched page by page (run at --memory 64MiB, no swap).
# Expected: the cgroup's memory limit OOM-kills the whole run: status "oom", "memory" in limits_hit.
# Prints its RESULT line before it starts allocating.
from _common import result
result("allocating")
hog = bytearray(512 << 20)
result("survived")
