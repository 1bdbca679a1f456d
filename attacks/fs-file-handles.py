# Tries (the "shocker" escape): name_to_handle_at and open_by_handle_at, to open a host inode by handle.
# Expected: EPERM from seccomp for both (even before the kernel's CAP_DAC_READ_SEARCH check).
import ctypes
from _common import call, result
handle = ctypes.create_string_buffer(136)
result("name_to_handle_at:" + call("name_to_handle_at", -100, b"/usr", handle, ctypes.byref(ctypes.c_int()), 0),
       "open_by_handle_at:" + call("open_by_handle_at", -100, handle, 0))
