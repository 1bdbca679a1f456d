// The run's setup child. It is made the way posix_spawn makes a child: clone3 with CLONE_VM | CLONE_VFORK,
// on a stack of its own, sharing the daemon's memory while the calling thread sleeps, until it executes
// glovebox-init. Nothing of the daemon is copied: a fork of a daemon with tens of MiB and a dozen busy
// threads cost a page-table copy, copy-on-write faults in every thread after it and a TLB shootdown for
// each (BENCHMARKS.md). The child has two parts. The first joins the cgroups, copies a root prepared for
// many runs, mounts /proc and enters the network: nothing of a run, so it may be done ahead of need, after
// which the child reports ready on its control socket and waits there, sleeping in recvmsg while the
// thread that made it sleeps in clone3. The second, once a run is handed over (gb_hand_over), makes the
// run's own mounts, drops every privilege and executes init, which starts the program. The prepared roots
// are made the same way, by a child that only mounts (gb_prepare_root).
//
// Only raw system calls and pure string helpers run in the child: it runs on the daemon's memory and on
// its calling thread's TLS (errno), and glibc still believes the daemon's other threads exist. So: no
// malloc, no stdio, no locks, syscall(SYS_setresuid) rather than glibc's setxid broadcast, and nothing
// written to memory but its own stack. Every signal is blocked across the clone, so no handler of the
// daemon ever runs in it. What belongs to the memory rather than to the process is the daemon's: the
// dumpable flag is kept at 0 (gloveboxd clears it at start; see drop_privileges), and init, which has
// memory of its own, clears its own.

#include "gb_launch.h"
#include "gb_shims.h"
#include "gb_system.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
struct mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#endif

uint64_t gb_namespace_flags(void) {
    return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
}

static const char *const step_names[] = {
    [GB_STEP_CGROUP] = "join the run's cgroups", [GB_STEP_PDEATHSIG] = "set parent-death signal",
    [GB_STEP_MOUNT_PRIVATE] = "make mounts private", [GB_STEP_ROOT_TMPFS] = "mount the root tmpfs",
    [GB_STEP_MKDIR] = "create a mount point", [GB_STEP_BIND] = "bind mount",
    [GB_STEP_REMOUNT] = "set mount attributes", [GB_STEP_SYMLINK] = "create a symlink",
[GB_STEP_DEVICE] = "bind a device node",
    [GB_STEP_TMPFS] = "mount a tmpfs", [GB_STEP_PROC] = "mount /proc", [GB_STEP_PIVOT_ROOT] = "pivot_root",
    [GB_STEP_DETACH_OLD_ROOT] = "detach the old root", [GB_STEP_REMOUNT_ROOT] = "make the root read-only",
    [GB_STEP_HOSTNAME] = "set the hostname", [GB_STEP_CHDIR] = "change to the working directory",
    [GB_STEP_RLIMIT] = "set resource limits", [GB_STEP_SETSID] = "setsid",
    [GB_STEP_CAPBSET] = "drop the capability bounding set", [GB_STEP_SETGROUPS] = "clear groups",
    [GB_STEP_SETGID] = "switch group", [GB_STEP_SETUID] = "switch user", [GB_STEP_CAPSET] = "clear capabilities",
    [GB_STEP_NO_NEW_PRIVS] = "set no_new_privs", [GB_STEP_DUMPABLE] = "clear dumpable",
    [GB_STEP_FORK] = "fork the program", [GB_STEP_DUP] = "set up standard descriptors",
    [GB_STEP_CLOSE_FDS] = "close inherited descriptors", [GB_STEP_SIGNALS] = "reset signals",
    [GB_STEP_SECCOMP] = "install the seccomp filter", [GB_STEP_EXECVE] = "execute the program",
    [GB_STEP_AMBIENT] = "clear ambient capabilities", [GB_STEP_LOOPBACK] = "bring up loopback",
    [GB_STEP_NETNS] = "join the network namespace", [GB_STEP_CGROUP_NS] = "unshare the cgroup namespace",
    [GB_STEP_EXEC_INIT] = "execute glovebox-init", [GB_STEP_ROOT_NAMESPACE] = "open the prepared root's namespace",
    [GB_STEP_ENTER_ROOT] = "copy the prepared root's mount namespace", [GB_STEP_RECEIVE_RUN] = "receive the run", [GB_STEP_PRIORITY] = "set the run's priority",
    [GB_STEP_READY] = "report ready", [GB_STEP_DEVPTS] = "mount /dev/pts", [GB_STEP_MASK_PROC] = "mask a file of /proc",
};

const char *gb_step_name(int step) {
    if (step > 0 && step < (int)(sizeof(step_names) / sizeof(step_names[0])) && step_names[step]) return step_names[step];
    return "unknown step";
}

// MARK: - Failure reporting

static _Noreturn void report_and_exit(int fd, int step, int err) {
    struct gb_error_report r = {.step = step, .err = err};
    ssize_t n;
    do { n = write(fd, &r, sizeof r); } while (n < 0 && errno == EINTR);
    _exit(127);
}

#define CHECK_TO(fd, expr, step) do { if ((expr) < 0) report_and_exit((fd), (step), errno); } while (0)

// MARK: - Paths within a root being built

// Every path of a root being built is resolved within it, from a descriptor of its top: a symlink on the
// way (one the policy's read-only list recreates, or one inside a bound host directory) resolves as it
// would inside the sandbox, and ".." stops at the top, so no mount point, file or symlink is ever made on
// the host, and no mount lands there. The paths are absolute targets inside the root, already checked
// (PolicyRules.pathProblem: no ".", "..", "//" or trailing "/").

// openat2 answers EAGAIN when a rename or mount anywhere on the machine raced with its ".." handling (a
// symlink's target may hold ".."; the daemon mounts for every run): tried again a few times.
static int open_in_root(int root, const char *path, uint64_t flags) {
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC | flags,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = -1;
    for (int attempt = 0; attempt < 16; attempt++) {
        fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN) break;
    }
    return fd;
}

// Calls make(dir, name) with the directory holding `path`'s last component, opened within the root, and
// that component's name. `path` is written to, and restored.
static int at_parent(int root, char *path, int (*make)(int dir, const char *name, const void *arg), const void *arg) {
    char *slash = strrchr(path, '/');
    if (!slash || slash[1] == '\0') { errno = EINVAL; return -1; }
    *slash = '\0';
    int dir = open_in_root(root, slash == path ? "/" : path, O_DIRECTORY);
    *slash = '/';
    if (dir < 0) return -1;
    int rc = make(dir, slash + 1, arg);
    int saved = errno;
    close(dir);
    errno = saved;
    return rc;
}

static int make_dir(int dir, const char *name, const void *arg) {
    (void)arg;
    return mkdirat(dir, name, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

// A file mount point is made with mknod: an empty regular file, never opened.
static int make_file(int dir, const char *name, const void *arg) {
    (void)arg;
    return mknodat(dir, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST ? -1 : 0;
}

static int make_symlink(int dir, const char *name, const void *target) {
    return symlinkat(target, dir, name);
}

// A new regular file holding the NUL-terminated `data`.
static int make_file_with(int dir, const char *name, const void *data) {
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t len = strlen(data), done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; close(fd); errno = e; return -1; }
        done += (size_t)n;
    }
    return close(fd);
}

// Makes `target` within the root: every missing parent directory, then `target` itself with make(dir,
// name, arg).
static int make_path(int root, const char *target, int (*make)(int dir, const char *name, const void *arg), const void *arg) {
    char path[PATH_MAX];
    size_t len = strlen(target);
    if (len >= sizeof path) { errno = ENAMETOOLONG; return -1; }
    memcpy(path, target, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = at_parent(root, path, make_dir, NULL);
        *p = '/';
        if (rc < 0) return -1;
    }
    return at_parent(root, path, make, arg);
}

// Makes `target`'s mount point (a directory, or an empty file) and its parents within the root, and
// returns a descriptor of it (O_PATH).
static int make_mount_point(int root, const char *target, int is_dir) {
    if (make_path(root, target, is_dir ? make_dir : make_file, NULL) < 0) return -1;
    return open_in_root(root, target, is_dir ? O_DIRECTORY : 0);
}

static int set_attrs(const char *path, uint64_t set, unsigned flags) {
    struct mount_attr attr = {.attr_set = set};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr);
}

// A detached copy of a host path's mounts (for a bind), taken in the caller's mount namespace: private (no
// mount or unmount on the host reaches a run through it), nosuid, nodev (noexec instead for a device
// node), and read-only where asked. A device node's is its own mount only, and read-only: its inode is the
// host's, whose times and mode a run could otherwise change (reading and writing the device itself do
// not need a writable mount). `path` is resolved from `dir` (AT_EMPTY_PATH in `flags`: `dir` itself).
static int detach(int dir, const char *path, unsigned flags, int kind) {
    unsigned recursive = kind == GB_MOUNT_DEVICE ? 0 : AT_RECURSIVE;
    int tree = (int)syscall(SYS_open_tree, dir, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursive | flags);
    if (tree < 0) return -1;
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_NOSUID | (kind == GB_MOUNT_DEVICE ? MOUNT_ATTR_NOEXEC : MOUNT_ATTR_NODEV) |
                    (kind == GB_MOUNT_BIND_RO || kind == GB_MOUNT_DEVICE ? MOUNT_ATTR_RDONLY : 0),
        .propagation = MS_PRIVATE,
    };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) < 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

static int is_bind(int kind) { return kind == GB_MOUNT_BIND_RO || kind == GB_MOUNT_BIND_RW || kind == GB_MOUNT_DEVICE; }

int gb_detached_tree(const struct gb_mount *m) {
    if (!is_bind(m->kind)) { errno = EINVAL; return -1; }
    return detach(AT_FDCWD, m->source, 0, m->kind);
}

int gb_detached_tree_of(int source, int kind) {
    if (!is_bind(kind)) { errno = EINVAL; return -1; }
    return detach(source, "", AT_EMPTY_PATH, kind);
}

// MARK: - Building a root

static void close_all_but(int err_fd, int *keep, int n);

// The root's mounts are built once for many runs (gb_prepare_root) in a mount namespace of their own: a
// read-only tmpfs holding the policy's read-only binds, /dev and the mount points of what each run brings.
// Each run's setup child copies that namespace (setns, then unshare) and mounts only its own things: its
// workspace, /tmp, /dev/shm and /proc. The builder has a descriptor table of its own: whatever it holds
// open when it fails is closed by its exit, and only the two descriptors it hands back reach the daemon.

// A tmpfs with mount options `data`: nosuid, nodev. `data` is "key=value,..." or "flag,...", at most 255
// bytes, no value holding a comma (mount(2) would take "mpol=bind:0,2"; the fixed options of /dev used
// here have none).
static int new_tmpfs(const char *data) {
    char options[256];
    size_t len = strlen(data);
    if (len >= sizeof options) { errno = E2BIG; return -1; }
    memcpy(options, data, len + 1);
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    int rc = 0;
    for (char *option = options, *next; option && rc == 0; option = next) {
        next = strchr(option, ',');
        if (next) *next++ = '\0';
        char *value = strchr(option, '=');
        if (value) *value++ = '\0';
        if (*option) rc = (int)syscall(SYS_fsconfig, fs, value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, option, value, 0);
    }
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    int mnt = rc < 0 ? -1 : (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    int saved = errno;
    close(fs);
    errno = saved;
    return mnt;
}

static int attach(int tree, int point) {
    return (int)syscall(SYS_move_mount, tree, "", point, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

// `tree`: a bind's detached tree, taken by the daemon from the source it checked.
static void apply_mount(int root, int err_fd, const struct gb_mount *m, int tree) {
    int point;
    switch (m->kind) {
    case GB_MOUNT_BIND_RO:
    case GB_MOUNT_BIND_RW:
    case GB_MOUNT_DEVICE:
        if (tree < 0) report_and_exit(err_fd, m->kind == GB_MOUNT_DEVICE ? GB_STEP_DEVICE : GB_STEP_BIND, EBADF);
        CHECK_TO(err_fd, point = make_mount_point(root, m->target, m->kind != GB_MOUNT_DEVICE && m->is_dir), GB_STEP_MKDIR);
        CHECK_TO(err_fd, attach(tree, point), m->kind == GB_MOUNT_DEVICE ? GB_STEP_DEVICE : GB_STEP_BIND);
        break;
    case GB_MOUNT_SYMLINK:
        CHECK_TO(err_fd, make_path(root, m->target, make_symlink, m->source), GB_STEP_SYMLINK);
        return;
    case GB_MOUNT_FILE:
        CHECK_TO(err_fd, make_path(root, m->target, make_file_with, m->data), GB_STEP_MKDIR);
        return;
    case GB_MOUNT_TMPFS:
        CHECK_TO(err_fd, point = make_mount_point(root, m->target, 1), GB_STEP_MKDIR);
        CHECK_TO(err_fd, tree = new_tmpfs(m->data), GB_STEP_TMPFS);
        CHECK_TO(err_fd, attach(tree, point), GB_STEP_TMPFS);
        break;
    default:
        report_and_exit(err_fd, GB_STEP_MKDIR, EINVAL);
    }
    if (tree >= 0) close(tree);
    close(point);
}

// The mount point of a run's own mount, made in the prepared root: a directory, or an empty file for a
// device node.
static void make_run_mount_point(int root, int err_fd, const struct gb_mount *m) {
    int is_dir = m->kind == GB_MOUNT_TMPFS || (m->kind != GB_MOUNT_DEVICE && m->is_dir);
    int point;
    CHECK_TO(err_fd, point = make_mount_point(root, m->target, is_dir), GB_STEP_MKDIR);
    close(point);
}

// Hands the namespace and the root to the daemon over the builder's socket: a report with step 0 and the
// two descriptors.
static int send_root(int sock, int ns_fd, int root_fd) {
    struct gb_error_report ok = {.step = 0, .err = 0};
    const int fds[2] = {ns_fd, root_fd};
    ssize_t n = gb_send_fds(sock, &ok, sizeof ok, fds, 2);
    if (n == (ssize_t)sizeof ok) return 0;
    if (n >= 0) errno = EIO;
    return -1;
}

// The prepared root's child (CLONE_VM | CLONE_VFORK, in a copy of the daemon's mount namespace and of its
// descriptor table): a tmpfs root with the shared mounts and every run's mount points, made private,
// pivoted into, and read-only. It sends descriptors of the namespace and of the root. Both are needed: a
// namespace's own root is not always the root pivoted into (where the daemon's root is not the top of its
// namespace: a chroot, as in the test VM), so a run enters the root by its descriptor (enter_root).
struct root_builder {
    const struct gb_root *plan;
    int sock;
};

static int build_root_main(void *arg) {
    const struct root_builder *b = arg;
    const struct gb_root *plan = b->plan;
    const int sock = b->sock;
    // Nothing of the daemon's is kept open but the socket and the binds' trees: a build that hangs holds
    // no run's pipe.
    int keep[1 + GB_MAX_ROOT_MOUNTS];
    if (plan->nmounts > GB_MAX_ROOT_MOUNTS) report_and_exit(sock, GB_STEP_CLOSE_FDS, E2BIG);
    int nkeep = 0;
    keep[nkeep++] = sock;
    for (int i = 0; i < plan->nmounts; i++) keep[nkeep++] = plan->trees[i];
    close_all_but(sock, keep, nkeep);
    CHECK_TO(sock, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), GB_STEP_MOUNT_PRIVATE);
    CHECK_TO(sock, mount("tmpfs", plan->root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755"),
             GB_STEP_ROOT_TMPFS);
    int root;
    CHECK_TO(sock, root = open(plan->root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), GB_STEP_ROOT_TMPFS);
    for (int i = 0; i < plan->nmounts; i++) apply_mount(root, sock, &plan->mounts[i], plan->trees[i]);
    for (int i = 0; i < plan->nrun_mounts; i++) make_run_mount_point(root, sock, &plan->run_mounts[i]);
    CHECK_TO(sock, make_path(root, "/proc", make_dir, NULL), GB_STEP_MKDIR);
    CHECK_TO(sock, make_path(root, "/dev/pts", make_dir, NULL), GB_STEP_MKDIR);
    // /dev is a tmpfs holding only bound device nodes and mount points: read-only now that they are in place.
    int dev = open_in_root(root, "/dev", O_DIRECTORY);
    if (dev < 0 && errno != ENOENT) report_and_exit(sock, GB_STEP_REMOUNT, errno);
    if (dev >= 0) {
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC};
        CHECK_TO(sock, syscall(SYS_mount_setattr, dev, "", AT_EMPTY_PATH, &attr, sizeof attr), GB_STEP_REMOUNT);
    }

    int ns;
    CHECK_TO(sock, ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC), GB_STEP_ROOT_NAMESPACE);
    CHECK_TO(sock, fchdir(root), GB_STEP_PIVOT_ROOT);
    CHECK_TO(sock, syscall(SYS_pivot_root, ".", "."), GB_STEP_PIVOT_ROOT);
    CHECK_TO(sock, umount2(".", MNT_DETACH), GB_STEP_DETACH_OLD_ROOT);
    CHECK_TO(sock, chdir("/"), GB_STEP_PIVOT_ROOT);
    CHECK_TO(sock, mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL),
             GB_STEP_REMOUNT_ROOT);
    int top;
    CHECK_TO(sock, top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), GB_STEP_ROOT_NAMESPACE);
    CHECK_TO(sock, send_root(sock, ns, top), GB_STEP_ROOT_NAMESPACE);
    _exit(0);
}

// MARK: - The setup child's first part: namespaces, cgroups and root

// The first part needs nothing of a run: it can be done ahead of need, by a child that then waits on its
// control socket for a run (gb_hand_over). Failures in it are reported on the control socket; once the
// run is received, on the run's report pipe, as before.

// /proc of the run's own pid namespace, as runc leaves it: the kernel's writable knobs read-only, and the
// files that show the host's kernel (its memory, keys, timers, scheduler, hardware) masked: /dev/null bound
// over a file, an empty read-only tmpfs over a directory. A path this kernel lacks is skipped.
static void mount_proc(int err_fd) {
    static const char *const readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"};
    static const char *const masked_files[] = {
        "/proc/kcore", "/proc/keys", "/proc/key-users", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
        "/proc/sched_debug", "/proc/config.gz", "/proc/kallsyms",
    };
    static const char *const masked_directories[] = {"/proc/acpi", "/proc/asound", "/proc/scsi"};
    CHECK_TO(err_fd, mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), GB_STEP_PROC);
    for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
        if (access(readonly[i], F_OK) < 0) continue;
        CHECK_TO(err_fd, mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL), GB_STEP_BIND);
        CHECK_TO(err_fd, set_attrs(readonly[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                   AT_RECURSIVE), GB_STEP_REMOUNT);
    }
    for (size_t i = 0; i < sizeof masked_files / sizeof masked_files[0]; i++) {
        if (access(masked_files[i], F_OK) < 0) continue;
        CHECK_TO(err_fd, mount("/dev/null", masked_files[i], NULL, MS_BIND, NULL), GB_STEP_MASK_PROC);
    }
    for (size_t i = 0; i < sizeof masked_directories / sizeof masked_directories[0]; i++) {
        if (access(masked_directories[i], F_OK) < 0) continue;
        CHECK_TO(err_fd, mount("tmpfs", masked_directories[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                               "size=4k,nr_inodes=1,mode=0555"), GB_STEP_MASK_PROC);
    }
}

// The run's root: a copy of the prepared root's namespace. The child joins the prepared namespace, makes
// the prepared root its root and only then copies the namespace, since the copy takes the root along:
// its root is then the copy of the prepared one.
static void enter_prepared_root(const struct gb_setup *setup) {
    const int fd = setup->control_fd;
    CHECK_TO(fd, setns(setup->root_ns_fd, CLONE_NEWNS), GB_STEP_ENTER_ROOT);
    CHECK_TO(fd, fchdir(setup->root_dir_fd), GB_STEP_ENTER_ROOT);
    CHECK_TO(fd, chroot("."), GB_STEP_ENTER_ROOT);
    CHECK_TO(fd, unshare(CLONE_NEWNS), GB_STEP_ENTER_ROOT);
    mount_proc(fd);
    // Pseudo-terminals of the run's own (openpty, pexpect, script): a devpts instance no other run or the
    // host shares, at most 64 of them (the kernel's pty count is shared by the whole machine); /dev/ptmx
    // is a symlink to its ptmx.
    CHECK_TO(fd, mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,max=64"), GB_STEP_DEVPTS);
}

// A new network namespace has only a loopback interface, down: bring it up so programs can use localhost
// among themselves. Nothing else exists to reach. A namespace from the daemon's pool is already like that.
static void enter_network(const struct gb_setup *setup) {
    if (setup->net_fd >= 0) {
        CHECK_TO(setup->control_fd, setns(setup->net_fd, CLONE_NEWNET), GB_STEP_NETNS);
    } else {
        CHECK_TO(setup->control_fd, gb_loopback_up(), GB_STEP_LOOPBACK);
    }
}

// cgroup v1 has no CLONE_INTO_CGROUP: the child moves itself into each hierarchy before it does anything
// else, so no step of the setup runs outside the run's cgroups. It writes to `tasks`, which moves its only
// thread and so all of it: moving oneself that way does not take the kernel's global threadgroup lock,
// whose write side waits for an RCU grace period when it was not taken just before (BENCHMARKS.md).
// Its cgroup namespace is made after that (not at the clone), so that the run sees its own cgroups as the
// root in every hierarchy.
static void join_cgroups(const struct gb_setup *setup) {
    if (setup->nprocs == 0) return;
    for (int i = 0; i < setup->nprocs; i++) {
        ssize_t n;
        do { n = write(setup->procs_fds[i], "0", 1); } while (n < 0 && errno == EINTR);
        if (n != 1) report_and_exit(setup->control_fd, GB_STEP_CGROUP, n < 0 ? errno : EIO);
    }
    CHECK_TO(setup->control_fd, unshare(CLONE_NEWCGROUP), GB_STEP_CGROUP_NS);
}

// Closes every descriptor but `keep` (n of them, -1 entries ignored): the child starts with a copy of the
// daemon's whole descriptor table (other runs' pipes, sockets of clients, the database), and a setup that
// hangs or waits must hold none of it open (their launches wait for the end of their report pipe).
static void close_all_but(int err_fd, int *keep, int n) {
    for (int i = 1; i < n; i++) {   // insertion sort: a handful of numbers
        int v = keep[i], j = i - 1;
        while (j >= 0 && keep[j] > v) { keep[j + 1] = keep[j]; j--; }
        keep[j + 1] = v;
    }
    unsigned next = 0;  // the lowest number not yet dealt with
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0) continue;
        if ((unsigned)keep[i] > next) CHECK_TO(err_fd, syscall(SYS_close_range, next, (unsigned)keep[i] - 1, 0), GB_STEP_CLOSE_FDS);
        next = (unsigned)keep[i] + 1;
    }
    CHECK_TO(err_fd, syscall(SYS_close_range, next, ~0U, 0), GB_STEP_CLOSE_FDS);
}

static void close_unneeded(const struct gb_setup *setup) {
    enum { FIXED = 6, MAX_KEEP = FIXED + 16 };
    int keep[MAX_KEEP];
    const int fixed[FIXED] = {setup->init_fd, setup->control_fd, setup->net_fd, setup->cgroup_fd, setup->root_ns_fd, setup->root_dir_fd};
    int n = 0;
    for (int i = 0; i < FIXED; i++) keep[n++] = fixed[i];
    if (setup->nprocs > MAX_KEEP - FIXED) report_and_exit(setup->control_fd, GB_STEP_CLOSE_FDS, E2BIG);
    for (int i = 0; i < setup->nprocs; i++) keep[n++] = setup->procs_fds[i];
    close_all_but(setup->control_fd, keep, n);
}

// Done with: the namespaces are entered and the cgroups joined. Only init's descriptor and the control
// socket stay open while the child waits for its run.
static void close_setup_descriptors(const struct gb_setup *setup) {
    int keep[2] = {setup->init_fd, setup->control_fd};
    close_all_but(setup->control_fd, keep, 2);
}

static int send_report(int control, int step, int err) {
    struct gb_error_report r = {.step = step, .err = err};
    long n;
    do { n = syscall(SYS_sendto, control, &r, sizeof r, MSG_NOSIGNAL, NULL, 0); } while (n < 0 && errno == EINTR);
    if (n == (long)sizeof r) return 0;
    if (n >= 0) errno = EIO;
    return -1;
}

// MARK: - Handing a run over

// The message: this payload, and the run's descriptors in a fixed order (run_descriptors).
struct run_message {
    uint64_t magic;
    const struct gb_launch *run;
};
#define GB_RUN_MAGIC 0x676c6f7665626f78ULL  // "glovebox"
enum { MAX_RUN_FDS = 6 + GB_MAX_RUN_MOUNTS };

// The descriptors sent with `run`: report, status, stdin, stdout, stderr, the filter (where there is one),
// then the trees of its binds in the order of its mounts. Returns their number, or -1 (EINVAL).
static int run_descriptors(const struct gb_launch *run, int fds[MAX_RUN_FDS]) {
    if (run->nmounts < 0 || run->nmounts > GB_MAX_RUN_MOUNTS) { errno = EINVAL; return -1; }
    int n = 0;
    fds[n++] = run->err_fd;
    fds[n++] = run->status_fd;
    fds[n++] = run->stdin_fd;
    fds[n++] = run->stdout_fd;
    fds[n++] = run->stderr_fd;
    if (run->filter_fd >= 0) fds[n++] = run->filter_fd;
    for (int i = 0; i < run->nmounts; i++) if (run->trees[i] >= 0) fds[n++] = run->trees[i];
    return n;
}

int gb_hand_over(int control, const struct gb_launch *run) {
    int fds[MAX_RUN_FDS];
    int nfds = run_descriptors(run, fds);
    if (nfds < 0) return -1;
    struct run_message payload = {.magic = GB_RUN_MAGIC, .run = run};
    ssize_t n = gb_send_fds(control, &payload, sizeof payload, fds, nfds);
    if (n == (ssize_t)sizeof payload) return 0;
    if (n >= 0) errno = EIO;
    return -1;
}

// The run, received in the child: a copy of the daemon's gb_launch with the descriptors replaced by the
// ones received (close-on-exec), and the trees of its binds. Anything but exactly the message the daemon
// sends is reported on the control socket as EPROTO.
struct received_run {
    struct gb_launch run;
    int trees[GB_MAX_RUN_MOUNTS];
};

static void receive_run(int control, struct received_run *out) {
    struct run_message payload = {0};
    int fds[MAX_RUN_FDS];
    int got = 0;
    // A message that is not exactly the daemon's has its descriptors closed (EBADMSG) and is reported.
    ssize_t n = gb_recv_fds(control, &payload, sizeof payload, fds, MAX_RUN_FDS, &got, 0);
    if (n < 0) report_and_exit(control, GB_STEP_RECEIVE_RUN, errno == EBADMSG ? EPROTO : errno);
    if (n != (ssize_t)sizeof payload || payload.magic != GB_RUN_MAGIC || !payload.run) {
        report_and_exit(control, GB_STEP_RECEIVE_RUN, EPROTO);
    }
    out->run = *payload.run;
    struct gb_launch *run = &out->run;
    int expected[MAX_RUN_FDS];
    int count = run_descriptors(run, expected);
    if (count < 0 || count != got) report_and_exit(control, GB_STEP_RECEIVE_RUN, EPROTO);
    int i = 0;
    run->err_fd = fds[i++];
    run->status_fd = fds[i++];
    run->stdin_fd = fds[i++];
    run->stdout_fd = fds[i++];
    run->stderr_fd = fds[i++];
    if (run->filter_fd >= 0) run->filter_fd = fds[i++];
    for (int m = 0; m < run->nmounts; m++) out->trees[m] = payload.run->trees[m] >= 0 ? fds[i++] : -1;
    run->trees = out->trees;
}

// MARK: - The second part: the run's own mounts, privileges, init

// A run's own mounts are binds, taken by the daemon (its workspace, /tmp, and /dev/shm, a noexec tmpfs the
// daemon mounted, which the bind keeps noexec).
static void attach_run_mounts(const struct gb_launch *run) {
    for (int i = 0; i < run->nmounts; i++) {
        const struct gb_mount *m = &run->mounts[i];
        if (!is_bind(m->kind)) report_and_exit(run->err_fd, GB_STEP_BIND, EINVAL);  // the root is read-only
        if (run->trees[i] < 0) report_and_exit(run->err_fd, GB_STEP_BIND, EBADF);
        CHECK_TO(run->err_fd, syscall(SYS_move_mount, run->trees[i], "", AT_FDCWD, m->target, MOVE_MOUNT_F_EMPTY_PATH),
                 m->kind == GB_MOUNT_DEVICE ? GB_STEP_DEVICE : GB_STEP_BIND);
        close(run->trees[i]);
    }
}

// The capabilities init keeps through its execve (as ambient capabilities): to empty the program's bounding
// set and make it the run's uid, and to forward signals to it. Init drops all but CAP_KILL once the program
// is started.
static const int init_caps[] = {CAP_SETPCAP, CAP_SETUID, CAP_SETGID, CAP_KILL};
enum { INIT_CAPS = sizeof init_caps / sizeof init_caps[0] };

static int is_init_cap(int cap) {
    for (int i = 0; i < INIT_CAPS; i++) if (init_caps[i] == cap) return 1;
    return 0;
}

// Every capability but init's four leaves the bounding set, which limits what an execve can give and
// nothing this thread holds. Each drop commits new credentials, so only capabilities still there are
// dropped (reading is free): gloveboxd drops them from its own set at start (gb_limit_bounding_set), which
// its setup children inherit, and the setup child checks again in its first part, ahead of need.
// Capabilities are numbered from 0 without gaps; past the last one both calls answer EINVAL.
int gb_limit_bounding_set(void) {
    for (int cap = 0; ; cap++) {
        int held = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (held < 0 && errno == EINVAL && cap > 0) return 0;
        if (held < 0) return -1;
        if (held && !is_init_cap(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
    }
}

static void drop_bounding_set(int err_fd) {
    if (gb_limit_bounding_set() < 0) report_and_exit(err_fd, GB_STEP_CAPBSET, errno);
}

// Init runs as a uid of its own, not the program's: a process of the run's uid can then neither signal,
// renice, prlimit nor trace it (the kernel's checks compare uids). The bounding set holds only init's
// four capabilities by now (drop_bounding_set); init has them as ambient capabilities, which survive its
// execve.
static void drop_privileges(const struct gb_launch *run) {
    const int fd = run->err_fd;
    CHECK_TO(fd, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), GB_STEP_AMBIENT);
    // Keep the permitted set across the change of uid below (which would otherwise clear it).
    CHECK_TO(fd, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), GB_STEP_CAPSET);
    CHECK_TO(fd, syscall(SYS_setgroups, 0, NULL), GB_STEP_SETGROUPS);
    CHECK_TO(fd, syscall(SYS_setresgid, run->init_gid, run->init_gid, run->init_gid), GB_STEP_SETGID);
    CHECK_TO(fd, syscall(SYS_setresuid, run->init_uid, run->init_uid, run->init_uid), GB_STEP_SETUID);
    // Changing uid set the dumpable flag of the memory, the daemon's, to fs.suid_dumpable: back to 0, so
    // that no process of init's uid can ever read the daemon's memory through this child.
    CHECK_TO(fd, prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), GB_STEP_DUMPABLE);
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < INIT_CAPS; i++) {
        uint32_t bit = 1u << (init_caps[i] % 32);
        data[init_caps[i] / 32].effective |= bit;
        data[init_caps[i] / 32].permitted |= bit;
        data[init_caps[i] / 32].inheritable |= bit;
    }
    CHECK_TO(fd, syscall(SYS_capset, &header, data), GB_STEP_CAPSET);
    for (int i = 0; i < INIT_CAPS; i++) {
        CHECK_TO(fd, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, init_caps[i], 0, 0), GB_STEP_AMBIENT);
    }
    CHECK_TO(fd, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), GB_STEP_NO_NEW_PRIVS);
}

// Gives init its descriptors at the numbers it expects (gb_launch.h), marks every other one close-on-exec,
// and returns the descriptor of glovebox-init to execute. Sources are first copied above the targets, since
// any of them may be 0 to 5; a failure is reported on the copy of the report pipe, whose number no longer
// moves.
static int arrange_descriptors(const struct gb_launch *run, int init_source) {
    const int sources[] = {run->stdin_fd, run->stdout_fd, run->stderr_fd, run->err_fd, run->status_fd, run->filter_fd};
    enum { COUNT = sizeof sources / sizeof sources[0], FIRST_FREE = COUNT, REPORT = GB_INIT_REPORT_FD };
    int moved[COUNT];
    moved[REPORT] = fcntl(run->err_fd, F_DUPFD_CLOEXEC, FIRST_FREE);
    if (moved[REPORT] < 0) report_and_exit(run->err_fd, GB_STEP_DUP, errno);
    for (int i = 0; i < COUNT; i++) {
        if (i == REPORT) continue;
        moved[i] = sources[i] < 0 ? -1 : fcntl(sources[i], F_DUPFD_CLOEXEC, FIRST_FREE);
        if (sources[i] >= 0 && moved[i] < 0) report_and_exit(moved[REPORT], GB_STEP_DUP, errno);
    }
    int init_fd = fcntl(init_source, F_DUPFD_CLOEXEC, FIRST_FREE);
    if (init_fd < 0) report_and_exit(moved[REPORT], GB_STEP_DUP, errno);
    for (int i = 0; i < COUNT; i++) {
        if (moved[i] < 0) {
            if (close(i) < 0 && errno != EBADF) report_and_exit(moved[REPORT], GB_STEP_CLOSE_FDS, errno);
        } else if (dup2(moved[i], i) < 0) {     // dup2's copy is not close-on-exec
            report_and_exit(moved[REPORT], GB_STEP_DUP, errno);
        }
    }
    if (syscall(SYS_close_range, FIRST_FREE, ~0U, CLOSE_RANGE_CLOEXEC) < 0) report_and_exit(moved[REPORT], GB_STEP_CLOSE_FDS, errno);
    return init_fd;
}

static int setup_main(void *arg) {
    const struct gb_setup *setup = arg;
    const int control = setup->control_fd;
    close_unneeded(setup);
    CHECK_TO(control, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), GB_STEP_PDEATHSIG);
    join_cgroups(setup);
    if (setup->fault == GB_FAULT_STALL) for (;;) pause();     // every signal is blocked: only SIGKILL ends this
    enter_prepared_root(setup);
    CHECK_TO(control, sethostname(setup->hostname, strlen(setup->hostname)), GB_STEP_HOSTNAME);
    enter_network(setup);
    drop_bounding_set(control);
    close_setup_descriptors(setup);
    CHECK_TO(control, send_report(control, 0, 0), GB_STEP_READY);

    // Ready: from here on the child waits, as root in the run's namespaces, for a run from the daemon.
    struct received_run received;
    receive_run(control, &received);
    const struct gb_launch *run = &received.run;
    CHECK_TO(run->err_fd, setpriority(PRIO_PROCESS, 0, run->nice), GB_STEP_PRIORITY);
    attach_run_mounts(run);
    CHECK_TO(run->err_fd, chdir(run->cwd), GB_STEP_CHDIR);
    for (int i = 0; i < run->nrlimits; i++) {
        struct rlimit rl = {.rlim_cur = run->rlimits[i].soft, .rlim_max = run->rlimits[i].hard};
        CHECK_TO(run->err_fd, setrlimit(run->rlimits[i].resource, &rl), GB_STEP_RLIMIT);
    }
    CHECK_TO(run->err_fd, setsid(), GB_STEP_SETSID);
    drop_privileges(run);
    // Changing credentials cleared the parent-death signal: set it again, so that if the daemon dies the
    // run's init dies, and the kernel ends everything in its pid namespace.
    CHECK_TO(run->err_fd, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), GB_STEP_PDEATHSIG);

    int init_fd = arrange_descriptors(run, setup->init_fd);
    if (run->fault == GB_FAULT_EXEC_INIT) init_fd = -1;   // fails with EBADF, reported below
    syscall(SYS_execveat, init_fd, "", run->init_argv, run->envp, AT_EMPTY_PATH);
    // The report descriptor is now GB_INIT_REPORT_FD.
    report_and_exit(GB_INIT_REPORT_FD, GB_STEP_EXEC_INIT, errno);
}

// MARK: - clone3 on a new stack

// gb_clone3_on_stack (gb_clone3.h): glibc's clone() cannot be used, since it has no CLONE_INTO_CGROUP.
#include "gb_clone3.h"
int gb_filter_memfd(const void *filter, size_t bytes) {
    int fd = memfd_create("glovebox-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < bytes) {
        ssize_t n = write(fd, (const char *)filter + done, bytes - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto fail;
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

// The setup child's stack: its deepest frames hold a few PATH_MAX buffers.
enum { SETUP_STACK_BYTES = 256 * 1024 };

// Runs fn(arg) in a child made with clone3(flags | CLONE_VM | CLONE_VFORK) on a stack of its own, with every
// signal blocked across the clone, so that none of the daemon's handlers runs in the child on the daemon's
// memory; the child keeps the mask. Returns the child's pid once it has executed a program or died, or -1
// with errno; *pidfd is -1 unless clone3 made one.
static long clone_vfork(struct clone_args *args, int (*fn)(void *), void *arg, int *pidfd) {
    void *stack = mmap(NULL, SETUP_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    args->flags |= CLONE_VM | CLONE_VFORK;
    args->stack = (uint64_t)(uintptr_t)stack;
    args->stack_size = SETUP_STACK_BYTES;
    uint64_t all = ~(uint64_t)0, old = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
    long pid = gb_clone3_on_stack(args, sizeof *args, fn, arg);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
    // The child has executed a program (its own memory now) or is gone: the stack is free again.
    munmap(stack, SETUP_STACK_BYTES);
    if (pid < 0) {
        // clone3 may have stored a pidfd number before failing; it is no descriptor of ours.
        if (pidfd) *pidfd = -1;
        errno = (int)-pid;
        return -1;
    }
    return pid;
}

// Receives what the builder sent: its failure, or the two descriptors of the root (close-on-exec). Returns
// 0 with the descriptors in *out, or -1 with *failure filled in where one was reported. Whatever else
// arrived is closed.
static int receive_root(int sock, struct gb_prepared_root *out, struct gb_error_report *failure) {
    struct gb_error_report report = {0};
    int fds[2] = {-1, -1};
    int nfds = 0;
    ssize_t n = gb_recv_fds(sock, &report, sizeof report, fds, 2, &nfds, MSG_DONTWAIT);
    if (n == (ssize_t)sizeof report && report.step == 0 && nfds == 2) {
        out->ns_fd = fds[0];
        out->root_fd = fds[1];
        return 0;
    }
    for (int i = 0; i < nfds; i++) close(fds[i]);
    if (n == (ssize_t)sizeof report && report.step != 0) *failure = report;
    else if (n > 0 || (n < 0 && errno == EBADMSG)) *failure = (struct gb_error_report){.step = GB_STEP_ROOT_NAMESPACE, .err = EPROTO};
    return -1;
}

int gb_prepare_root(const struct gb_root *plan, int *pidfd, struct gb_prepared_root *out, struct gb_error_report *failure) {
    failure->step = 0;
    failure->err = 0;
    out->ns_fd = out->root_fd = -1;
    // Read without waiting once the child has exited: another child forked meanwhile may still hold a copy
    // of the builder's end, so the end of the stream cannot be waited for.
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    struct root_builder b = {.plan = plan, .sock = sv[1]};
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWNS | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    long pid = clone_vfork(&args, build_root_main, &b, pidfd);
    int saved = errno;
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        errno = saved;
        return -1;
    }
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int waited;
    while ((waited = waitid((idtype_t)3 /* P_PIDFD */, (id_t)*pidfd, &info, WEXITED | __WALL)) < 0 && errno == EINTR) {}
    int rc = receive_root(sv[0], out, failure);
    close(sv[0]);
    if (rc == 0 && (waited < 0 || info.si_code != CLD_EXITED || info.si_status != 0)) {
        close(out->ns_fd);      // sent, then killed (the watchdog) before it exited
        close(out->root_fd);
        out->ns_fd = out->root_fd = -1;
        rc = -1;
    }
    if (rc < 0) {
        errno = failure->step != 0 ? failure->err : EINTR;  // else killed (the watchdog)
        return -1;
    }
    return 0;
}

pid_t gb_start_setup(const struct gb_setup *setup, int *pidfd, pid_t *pid) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = gb_namespace_flags() | CLONE_PIDFD;
    // The mount namespace is a copy of the prepared root's (enter_prepared_root), not of the daemon's; a
    // network namespace made ahead of need is joined by the child instead (enter_network); on cgroup v1
    // the cgroup namespace is made once the child is in its cgroups (join_cgroups).
    args.flags &= ~(uint64_t)CLONE_NEWNS;
    if (setup->net_fd >= 0) args.flags &= ~(uint64_t)CLONE_NEWNET;
    if (setup->nprocs > 0) args.flags &= ~(uint64_t)CLONE_NEWCGROUP;
    args.flags |= CLONE_PARENT_SETTID;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.parent_tid = (uint64_t)(uintptr_t)pid;
    args.exit_signal = SIGCHLD;
    if (setup->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)setup->cgroup_fd;
    }
    return (pid_t)clone_vfork(&args, setup_main, (void *)setup, pidfd);
}

int gb_setup_report(int control, struct gb_error_report *report) {
    ssize_t n;
    do { n = recv(control, report, sizeof *report, MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof *report) return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n == 0) errno = EPIPE;
    else if (n > 0) errno = EPROTO;
    return -1;
}
