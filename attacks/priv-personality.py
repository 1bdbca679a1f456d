# Tries: to weaken its own address space with personality(2): ADDR_NO_RANDOMIZE (no ASLR),
# READ_IMPLIES_EXEC (every readable mapping executable) and MMAP_PAGE_ZERO (a mapping at address 0, the
# old way to exploit kernel NULL dereferences), each also with the upper 32 bits set (the kernel reads an
# unsigned int). Then the query 0xffffffff, which changes nothing.
# Expected: EPERM for each change (seccomp allows only Docker's values, PER_LINUX with UNAME26 and
# PER_LINUX32), ok for the query.
import ctypes
from _common import NR, errname, libc, result
def personality(value):
    rc = libc.syscall(ctypes.c_long(NR["personality"]), ctypes.c_long(value))
    return "ok" if rc >= 0 else errname(ctypes.get_errno())
parts = []
for name, value in (("no-aslr", 0x0040000), ("read-exec", 0x0400000), ("page-zero", 0x0100000)):
    parts += [name + ":" + personality(value), name + "-high:" + personality((1 << 32) | value)]
result(*parts, "query:" + personality(0xffffffff))
