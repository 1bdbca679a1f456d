/// The system calls a run may make at all: those ordinary programs use (Python, NumPy, SciPy, PyTorch with
/// its DataLoader workers, compilers, TeX), close to Docker's default profile. Every other call, including
/// those kernels add later, answers ENOSYS (SeccompProfile), so a program falls back as it would on an
/// older kernel. Names a kernel or an architecture does not have are skipped; calls newer than the
/// system's libseccomp are found by number (SystemCallNumber).
enum SeccompAllowList {
    static let names: [String] = files + descriptors + memory + processes + signals + time + scheduling + ipc + network + identity

    static let files = [
        "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat", "fchmodat2",
        "chown", "fchown", "fchownat", "lchown", "chown32", "fchown32", "lchown32", "creat", "open", "openat", "openat2",
        "stat", "lstat", "fstat", "newfstatat", "statx", "stat64", "lstat64", "fstat64", "fstatat64", "statfs", "fstatfs",
        "statfs64", "fstatfs64", "getdents", "getdents64", "link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat",
        "rename", "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat",
        "truncate", "ftruncate", "truncate64", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "arm_fadvise64_64",
        "readahead", "sync", "syncfs", "fsync", "fdatasync", "sync_file_range", "sync_file_range2", "umask",
        "utime", "utimes", "futimesat", "utimensat", "utimensat_time64",
        "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat",
        "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
        "file_getattr", "file_setattr", "flock", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "fanotify_mark", "copy_file_range", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
    ]

    static let descriptors = [
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2", "lseek",
        "_llseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64", "ioctl", "pipe", "pipe2",
        "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_gettime",
        "timerfd_settime64", "timerfd_gettime64", "memfd_create", "io_setup", "io_destroy", "io_submit", "io_cancel",
        "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    ]

    static let memory = [
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2",
        "munlock", "mlockall", "munlockall", "remap_file_pages", "membarrier", "pkey_alloc", "pkey_free", "pkey_mprotect",
        "mseal", "map_shadow_stack", "cachestat",
    ]

    static let processes = [
        "execve", "execveat", "fork", "vfork", "clone", "exit", "exit_group", "wait4", "waitid", "waitpid",
        "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address",
        "set_robust_list", "get_robust_list", "futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait",
        "futex_requeue", "rseq", "arch_prctl", "set_thread_area", "get_thread_area", "set_tls", "prctl", "personality",
        "getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "getpriority", "setpriority", "ioprio_get",
        "ioprio_set", "pidfd_open", "pidfd_send_signal", "process_mrelease", "uname", "sysinfo", "getrandom",
        "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "restart_syscall",
        // Left to the kernel's own checks, which refuse a process without privileges (the priv-capabilities
        // attack: capset, setuid to 0, raising the ambient set).
        "capget", "capset",
    ]

    static let signals = [
        "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
        "sigreturn", "sigprocmask", "pause", "alarm",
    ]

    static let time = [
        "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
        "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "times", "getitimer", "setitimer", "timer_create",
        "timer_delete", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_settime64", "timer_gettime64",
    ]

    static let scheduling = [
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
        "sched_getscheduler", "sched_setscheduler", "sched_getattr", "sched_setattr", "sched_get_priority_max",
        "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64", "getcpu",
    ]

    static let ipc = [
        "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
        "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
        "mq_timedsend_time64", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
    ]

    static let network = [
        "socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown",
        "setsockopt", "getsockopt", "send", "recv",
    ]

    static let identity = [
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid", "setgid",
        "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
        "getuid32", "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32", "setuid32",
        "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32", "setfsuid32", "setfsgid32",
    ]
}
