# Tries (runc CVE-2019-5736): to open init's binary, glovebox-init (root's, run by every run), for writing
# through /proc/1/exe, and to overwrite the interpreter running the attack (/proc/self/exe).
# Expected: /proc/1/exe: EACCES (init is non-dumpable); python3: EACCES (root's file; the mount is read-only too).
from _common import oserror, result
result("init-exe:" + oserror(open, "/proc/1/exe", "r+b"), "self-exe:" + oserror(open, "/proc/self/exe", "r+b"))
