# Tries: to trace or read the memory of the run's init (pid 1, our parent, glovebox-init, unfiltered):
# PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_TRACEME, process_vm_readv.
# Expected: EPERM for each, from seccomp (init is also non-dumpable).
import ctypes
from _common import call, result
buf = ctypes.create_string_buffer(8)
local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)
remote = (ctypes.c_void_p * 2)(0x400000, 8)
result("attach:" + call("ptrace", 16, 1, 0, 0), "seize:" + call("ptrace", 0x4206, 1, 0, 0),
       "traceme:" + call("ptrace", 0, 0, 0, 0), "process_vm_readv:" + call("process_vm_readv", 1, local, 1, remote, 1, 0))
