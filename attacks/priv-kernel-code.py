# Tries: to load code into the kernel or replace it: init_module, finit_module, kexec_load, kexec_file_load.
# Expected: EPERM for each, from seccomp.
from _common import call, result
result("init_module:" + call("init_module", 0, 0, b""), "finit_module:" + call("finit_module", 0, b"", 0),
       "kexec_load:" + call("kexec_load", 0, 0, 0, 0), "kexec_file_load:" + call("kexec_file_load", -1, -1, 0, b"", 4))
