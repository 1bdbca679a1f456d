# Shared by the Python attacks: raw system calls through libc and the one RESULT line each prints.
import ctypes, errno, os, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# x86_64 system call numbers (the suite is written for the x86_64 hosts Glovebox runs on).
NR = dict(ptrace=101, syslog=103, capset=126, settimeofday=164, adjtimex=159, pivot_root=155, chroot=161,
          mount=165, umount2=166, swapon=167, reboot=169, iopl=172, init_module=175, delete_module=176,
          clock_settime=227, kexec_load=246, add_key=248, request_key=249, keyctl=250, unshare=272,
          perf_event_open=298, name_to_handle_at=303, open_by_handle_at=304, clock_adjtime=305,
          setns=308, process_vm_readv=310, finit_module=313, kexec_file_load=320, bpf=321,
          userfaultfd=323, io_uring_setup=425, open_tree=428, move_mount=429, fsopen=430, clone=56,
          clone3=435, kill=62, socket=41, personality=135, lsm_set_self_attr=460)


def errname(e):
    return errno.errorcode.get(e, str(e))


def call(name, *args):
    """The system call's outcome: 'ok' (it succeeded) or the errno's name."""
    rc = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return "ok" if rc >= 0 else errname(ctypes.get_errno())


def oserror(fn, *args):
    """'ok' when fn(*args) succeeds, else the OSError's errno name."""
    try:
        fn(*args)
        return "ok"
    except OSError as e:
        return errname(e.errno)


def result(*parts):
    print("RESULT " + ",".join(parts), flush=True)
