#include "gb_shims.h"
#include "gb_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/loop.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int gb_peer_groups(int fd, gid_t *groups, int max) {
    socklen_t len = (socklen_t)((size_t)max * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
        if (errno == ERANGE) return -(int)(len / sizeof(gid_t)) - 1;
        return INT32_MIN;
    }
    return (int)(len / sizeof(gid_t));
}

// Only this thread's: raw system calls, not glibc's, which would change every thread's.
static int set_thread_credentials(unsigned fsuid, unsigned fsgid, const gid_t *groups, int ngroups) {
    if (syscall(SYS_setgroups, (size_t)ngroups, groups) < 0) return -1;
    syscall(SYS_setfsgid, fsgid);
    syscall(SYS_setfsuid, fsuid);
    // setfs[ug]id report no error: read them back (-1 changes nothing and returns the current value).
    if ((unsigned)syscall(SYS_setfsgid, -1) != fsgid || (unsigned)syscall(SYS_setfsuid, -1) != fsuid) { errno = EPERM; return -1; }
    return 0;
}

int gb_access_as(int fd, uid_t uid, gid_t gid, const gid_t *groups, int ngroups, int mode) {
    if (ngroups < 0 || ngroups > NGROUPS_MAX_CHECKED) { errno = E2BIG; return -1; }
    gid_t *saved_groups = malloc(NGROUPS_MAX_CHECKED * sizeof(gid_t));
    if (!saved_groups) return -1;
    unsigned saved_fsuid = (unsigned)syscall(SYS_setfsuid, -1);
    unsigned saved_fsgid = (unsigned)syscall(SYS_setfsgid, -1);
    int saved_ngroups = (int)syscall(SYS_getgroups, NGROUPS_MAX_CHECKED, saved_groups);
    if (saved_ngroups < 0) { int e = errno; free(saved_groups); errno = e; return -1; }
    int rc = -1, err;
    if (set_thread_credentials(uid, gid, groups, ngroups) == 0) {
        // AT_EACCESS: with the file system ids set above (fsuid away from 0 also drops this thread's
        // capabilities over files), not with the real ids.
        rc = (int)syscall(SYS_faccessat2, fd, "", mode, AT_EMPTY_PATH | AT_EACCESS);
    }
    err = errno;
    // Never left as the client: a thread that cannot be given its own credentials back must not go on.
    if (set_thread_credentials(saved_fsuid, saved_fsgid, saved_groups, saved_ngroups) < 0) abort();
    free(saved_groups);
    errno = err;
    return rc;
}


int gb_set_pipe_size(int fd, int bytes) { return fcntl(fd, F_SETPIPE_SZ, bytes); }

int gb_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }

int gb_close_range(unsigned first, unsigned last) { return (int)syscall(SYS_close_range, first, last, 0); }

int gb_open_no_symlinks(const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd;
    do { fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how); } while (fd < 0 && errno == EINTR);
    return fd;
}

int gb_mount_overlay(const char *target, const char *options) {
    return mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, options);
}

int gb_private_mount_namespace(void) {
    if (unshare(CLONE_NEWNS) < 0) return -1;
    return mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
}

// The program reads struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
// and returns 1 (allow) for a listed character device, 0 (deny) for everything else. A minor of
// GB_ANY_MINOR allows every minor of that major (the ptys of a run's own devpts).
int gb_attach_device_filter(int cgroup_fd, const uint32_t *majors, const uint32_t *minors, int count) {
    if (count < 0 || count > 64) { errno = EINVAL; return -1; }
    struct bpf_insn prog[4 + 64 * 5 + 2];
    int n = 0;
#define INSN(c, d, s, o, i) prog[n++] = (struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)}
    INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);  // r2 = access_type
    INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF);      // r2 = device type
    INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 4, 0);  // r3 = major
    INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 8, 0);  // r4 = minor
    for (int i = 0; i < count; i++) {
        int any = minors[i] == GB_ANY_MINOR;  // one comparison fewer to jump over
        INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, any ? 3 : 4, BPF_DEVCG_DEV_CHAR);
        INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, any ? 2 : 3, (int32_t)majors[i]);
        if (!any) INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 2, (int32_t)minors[i]);
        INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
        INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
#undef INSN
    union bpf_attr load;
    memset(&load, 0, sizeof load);
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uint64_t)(uintptr_t)prog;
    load.insn_cnt = (uint32_t)n;
    load.license = (uint64_t)(uintptr_t)"GPL";
    int prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    if (prog_fd < 0) return -1;
    union bpf_attr attach;
    memset(&attach, 0, sizeof attach);
    attach.target_fd = (uint32_t)cgroup_fd;
    attach.attach_bpf_fd = (uint32_t)prog_fd;
    attach.attach_type = BPF_CGROUP_DEVICE;
    int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
    int saved = errno;
    close(prog_fd);  // the attachment keeps the program alive as long as the cgroup exists
    errno = saved;
    return rc;
}

long gb_fs_magic(const char *path) {
    struct statfs s;
    if (statfs(path, &s) < 0) return -1;
    return (long)s.f_type;
}

long gb_fd_fs_magic(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) < 0) return -1;
    return (long)s.f_type;
}

int gb_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

unsigned gb_major(uint64_t dev) { return major(dev); }
unsigned gb_minor(uint64_t dev) { return minor(dev); }

int gb_limit_malloc_arenas(int n) { return mallopt(M_ARENA_MAX, n); }

int gb_eventfd(void) { return eventfd(0, EFD_CLOEXEC); }

int gb_timerfd(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC); }

int gb_timerfd_set(int fd, double at) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);   // all zero: disarmed
    if (at > 0) {
        spec.it_value.tv_sec = (time_t)at;
        spec.it_value.tv_nsec = (long)((at - (double)spec.it_value.tv_sec) * 1e9);
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int gb_mount_tmpfs(const char *target, const char *options) {
    return mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options);
}

int gb_mount_tmpfs_noexec(const char *target, const char *options) {
    return mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options);
}

int gb_mount_ext4(const char *device, const char *target, const char *options) {
    return mount(device, target, "ext4", MS_NOSUID | MS_NODEV, options);
}

int gb_umount(const char *target) { return umount2(target, MNT_DETACH); }

int gb_accept(int listener) {
    int fd;
    do { fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    return fd;
}

int gb_seccomp_available(void) { return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 ? -1 : 0; }

int gb_loop_attach(int backing_fd, char *name, size_t name_cap) {
    int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (control < 0) return -1;
    for (int attempt = 0; attempt < 16; attempt++) {
        int n = ioctl(control, LOOP_CTL_GET_FREE);
        if (n < 0) break;
        snprintf(name, name_cap, "/dev/loop%d", n);
        int dev = open(name, O_RDWR | O_CLOEXEC);
        if (dev < 0) {
            if (errno == ENOENT || errno == ENXIO) continue;
            break;
        }
        struct loop_config config;
        memset(&config, 0, sizeof config);
        config.fd = (uint32_t)backing_fd;
        config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (ioctl(dev, LOOP_CONFIGURE, &config) == 0) {
            close(control);
            return dev;
        }
        int saved = errno;
        close(dev);
        if (saved != EBUSY) { errno = saved; break; }
    }
    int saved = errno;
    close(control);
    errno = saved;
    return -1;
}

// The map of an idmapped workdir: files of `client` are seen as `run`'s and those of `run` as `client`'s,
// those of every other id as its own. Every id is mapped: where one is not, the kernel denies the
// overlay's mounter (the daemon) its DAC override on that file, and the overlay then falls back to the
// "other" bits. Lines are "on-disk seen count", the whole map in one write; 4294967295 means "no id".
//
// One exception, in the uid map only (`root_seen_as`, else 0): the kernel lets a map show any file as
// root's only to a writer with CAP_SETFCAP, which gloveboxd does without; so root's files are seen as
// owned by uid 4294967294 (and that uid's, which no real user has, are not mapped). A root client's own
// files are the run's, as any client's.
static const unsigned root_seen_as = 4294967294U;

static int write_map(pid_t pid, const char *file, unsigned client, unsigned run, int root_as_itself) {
    char path[64], lines[512];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int n = 0;
    unsigned long points[6];
    int npoints = 0;
    n += snprintf(lines + n, sizeof lines - (size_t)n, "%u %u 1\n", client, run);
    points[npoints++] = client;
    points[npoints++] = run;
    if (client != run && (client != 0 || root_as_itself)) n += snprintf(lines + n, sizeof lines - (size_t)n, "%u %u 1\n", run, client);
    if (!root_as_itself) {
        if (client != 0) n += snprintf(lines + n, sizeof lines - (size_t)n, "0 %u 1\n", root_seen_as);
        points[npoints++] = 0;
        points[npoints++] = root_seen_as;
    }
    // Every other id is seen as itself: the gaps between the ids above, from 0 up to 4294967295.
    points[npoints++] = 4294967295UL;
    for (int i = 1; i < npoints; i++) {  // insertion sort: a handful
        unsigned long v = points[i];
        int j = i - 1;
        while (j >= 0 && points[j] > v) { points[j + 1] = points[j]; j--; }
        points[j + 1] = v;
    }
    unsigned long next = 0;  // the lowest id not yet dealt with
    for (int i = 0; i < npoints; i++) {
        if (points[i] > next) n += snprintf(lines + n, sizeof lines - (size_t)n, "%lu %lu %lu\n", next, next, points[i] - next);
        if (points[i] + 1 > next) next = points[i] + 1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w = write(fd, lines, (size_t)n);
    int saved = errno;
    close(fd);
    errno = saved;
    return w == n ? 0 : -1;
}

int gb_idmap_userns(uid_t client_uid, uid_t run_uid, gid_t client_gid, gid_t run_gid) {
    int hold[2], ready[2];
    if (pipe2(hold, O_CLOEXEC) < 0) return -1;
    if (pipe2(ready, O_CLOEXEC) < 0) { int e = errno; close(hold[0]); close(hold[1]); errno = e; return -1; }
    // A child that only waits in the new user namespace while its maps are written and the namespace is
    // opened: raw clone, and nothing but raw system calls and _exit in it (the daemon is multithreaded).
    // It makes itself dumpable first, as the daemon (whose copy it is) is not: opening another process's
    // /proc/PID/ns/user takes ptrace rights over it, which a non-dumpable process grants only to
    // CAP_SYS_PTRACE, a capability gloveboxd does without. Its memory is a copy of the daemon's, which
    // only root, whose process it is, could read.
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) { int e = errno; close(hold[0]); close(hold[1]); close(ready[0]); close(ready[1]); errno = e; return -1; }
    if (pid == 0) {
        char c = 'r';
        syscall(SYS_close, hold[1]);
        syscall(SYS_close, ready[0]);
        if (syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) _exit(1);
        while (syscall(SYS_write, ready[1], &c, 1) < 0 && errno == EINTR) {}
        while (syscall(SYS_read, hold[0], &c, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(hold[0]);
    close(ready[1]);
    int result = -1, saved = 0;
    char c;
    ssize_t got;
    do { got = read(ready[0], &c, 1); } while (got < 0 && errno == EINTR);
    if (got != 1) {
        saved = got < 0 ? errno : ECHILD;  // the child died before it was ready
    } else if (write_map(pid, "uid_map", client_uid, run_uid, 0) == 0 && write_map(pid, "gid_map", client_gid, run_gid, 1) == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        result = open(path, O_RDONLY | O_CLOEXEC);
        saved = errno;
    } else {
        saved = errno;
    }
    close(ready[0]);
    close(hold[1]);
    while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {}
    errno = saved;
    return result;
}

int gb_idmapped_bind(int dirfd, int userns_fd, const char *target) {
    int tree = (int)syscall(SYS_open_tree, dirfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) return -1;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY;
    attr.userns_fd = (uint64_t)userns_fd;
    int rc = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
    if (rc == 0) rc = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    int saved = errno;
    close(tree);
    errno = saved;
    return rc;
}

// MARK: - Network namespaces made ahead of need

int gb_make_network_namespace(int home_fd, int *stranded) {
    *stranded = 0;
    if (unshare(CLONE_NEWNET) < 0) return -1;
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int saved = errno;
    if (fd >= 0 && gb_loopback_up() < 0) {
        saved = errno;
        close(fd);
        fd = -1;
    }
    if (setns(home_fd, CLONE_NEWNET) < 0) {
        saved = errno;
        *stranded = 1;
        if (fd >= 0) close(fd);
        fd = -1;
    }
    errno = saved;
    return fd;
}

int gb_open_path(const char *path) {
    return open(path, O_PATH | O_CLOEXEC);
}

int gb_clear_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int gb_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}
