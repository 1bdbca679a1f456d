# Tries: the kernel interfaces most exploits start from: bpf, perf_event_open, userfaultfd, io_uring_setup;
# and lsm_set_self_attr (Linux 6.8), a call newer than Debian 12's libseccomp, which cannot name it.
# Expected: EPERM for each, from seccomp (the kernel is never asked, whatever its sysctls say); the newer
# call is denied by its number.
import ctypes
from _common import call, result
attr = ctypes.create_string_buffer(128)
params = ctypes.create_string_buffer(120)
result("bpf:" + call("bpf", 0, 0, 0), "perf_event_open:" + call("perf_event_open", attr, 0, -1, -1, 0),
       "userfaultfd:" + call("userfaultfd", 0), "io_uring_setup:" + call("io_uring_setup", 8, params),
       "lsm_set_self_attr:" + call("lsm_set_self_attr", 0, 0, 0, 0))
