// The run's setup child. It is made the way posix_spawn makes a child: clone3 with CLONE_VM | CLONE_VFORK,
// on a stack of its own, sharing the daemon's memory while the calling thread sleeps, until it executes
// glovebox-init. Nothing of the daemon is copied: a fork of a daemon with tens of MiB and a dozen busy
// threads cost a page-table copy, copy-on-write faults in every thread after it and a TLB shootdown for
// each (BENCHMARKS.md). The child joins the run's cgroups, copies a root prepared for many runs and makes
// the run's own mounts in it, enters the network, drops every privilege and executes init, which starts
// the program. The prepared roots are made the same way, by a child that only mounts (gb_prepare_root).
//
// Only raw system calls and pure string helpers run in the child: it runs on the daemon's memory and on
// its calling thread's TLS (errno), and glibc still believes the daemon's other threads exist. So: no
// malloc, no stdio, no locks, syscall(SYS_setresuid) rather than glibc's setxid broadcast, and nothing
// written to memory but its own stack (and, for a prepared root's child, the two descriptor numbers it
// hands back). Every signal is blocked across the clone, so no handler of the
// daemon ever runs in it. What belongs to the memory rather than to the process is the daemon's: the
// dumpable flag is kept at 0 (gloveboxd clears it at start; see drop_privileges), and init, which has
// memory of its own, clears its own.

#include "gb_launch.h"
#include "gb_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
    [GB_STEP_ENTER_ROOT] = "copy the prepared root's mount namespace",
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
#define CHECK(expr, step) CHECK_TO(spec->err_fd, expr, step)

// MARK: - Paths (fixed buffers, no allocation)

static int join(char *out, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > cap) { errno = ENAMETOOLONG; return -1; }
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return 0;
}

// mkdir -p for every parent of `path` below its first `from` bytes, which name a directory that exists
// (the new root), and for `path` itself when `last` is set.
static int mkdir_parents(char *path, size_t from, int last) {
    for (char *p = path + from + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST) return -1;
    }
    if (last && mkdir(path, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

// A file mount point is made with mknod, never opened: the child that builds a prepared root shares the
// daemon's descriptor table, and a file opened for writing there could be copied into a run's setup child
// cloned meanwhile, keeping a writer on the mount (making /dev read-only then fails with EBUSY).
static int make_mount_point(char *path, size_t from, int is_dir) {
    if (mkdir_parents(path, from, is_dir) < 0) return -1;
    if (is_dir) return 0;
    if (mknod(path, S_IFREG | 0644, 0) < 0 && errno != EEXIST) return -1;
    return 0;
}

static int set_attrs(const char *path, uint64_t set, unsigned flags) {
    struct mount_attr attr = {.attr_set = set};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr);
}

// MARK: - Building a root

// The root's mounts are built once for many runs (gb_prepare_root) in a mount namespace of their own: a
// read-only tmpfs holding the policy's read-only binds, /dev and the mount points of what each run brings.
// Each run's setup child copies that namespace (setns, then unshare) and mounts only its own things: its
// workspace, /tmp, /dev/shm and /proc. The functions below take the path of the root being built and the
// descriptor that failures are reported on.

static void apply_mount(const char *root, int err_fd, const struct gb_mount *m) {
    char path[PATH_MAX];
    const size_t from = strlen(root);
    CHECK_TO(err_fd, join(path, sizeof path, root, m->target), GB_STEP_MKDIR);
    switch (m->kind) {
    case GB_MOUNT_BIND_RO:
    case GB_MOUNT_BIND_RW:
        CHECK_TO(err_fd, make_mount_point(path, from, m->is_dir), GB_STEP_MKDIR);
        CHECK_TO(err_fd, mount(m->source, path, NULL, MS_BIND | MS_REC, NULL), GB_STEP_BIND);
        CHECK_TO(err_fd, set_attrs(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                 (m->kind == GB_MOUNT_BIND_RO ? MOUNT_ATTR_RDONLY : 0), AT_RECURSIVE), GB_STEP_REMOUNT);
        break;
    case GB_MOUNT_SYMLINK:
        CHECK_TO(err_fd, mkdir_parents(path, from, 0), GB_STEP_MKDIR);
        CHECK_TO(err_fd, symlink(m->source, path), GB_STEP_SYMLINK);
        break;
    case GB_MOUNT_DEVICE:
        CHECK_TO(err_fd, make_mount_point(path, from, 0), GB_STEP_MKDIR);
        CHECK_TO(err_fd, mount(m->source, path, NULL, MS_BIND, NULL), GB_STEP_DEVICE);
        CHECK_TO(err_fd, set_attrs(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0), GB_STEP_REMOUNT);
        break;
    case GB_MOUNT_TMPFS:
        CHECK_TO(err_fd, mkdir_parents(path, from, 1), GB_STEP_MKDIR);
        CHECK_TO(err_fd, mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, m->data), GB_STEP_TMPFS);
        break;
    default:
        report_and_exit(err_fd, GB_STEP_MKDIR, EINVAL);
    }
}

// The mount point of a run's own mount, made in the prepared root: a directory, or an empty file for a
// device node.
static void make_run_mount_point(const char *root, int err_fd, const struct gb_mount *m) {
    char path[PATH_MAX];
    CHECK_TO(err_fd, join(path, sizeof path, root, m->target), GB_STEP_MKDIR);
    int is_dir = m->kind == GB_MOUNT_TMPFS || (m->kind != GB_MOUNT_DEVICE && m->is_dir);
    CHECK_TO(err_fd, make_mount_point(path, strlen(root), is_dir), GB_STEP_MKDIR);
}

// The prepared root's child (CLONE_VM | CLONE_VFORK | CLONE_FILES, in a copy of the daemon's mount
// namespace): a tmpfs root with the shared mounts and every run's mount points, made private, pivoted
// into, and read-only. The descriptors of the namespace and of the root land in the daemon's table
// (CLONE_FILES). Both are needed: a namespace's own root is not always the root pivoted into (where the
// daemon's root is not the top of its namespace: a chroot, as in the test VM), so a run enters the root
// by its descriptor (enter_root).
struct root_builder {
    const struct gb_root *plan;
    int err_fd;
    struct gb_prepared_root *out;   // filled in by the child: the namespace and the root directory
};

static int build_root_main(void *arg) {
    struct root_builder *b = arg;
    const struct gb_root *plan = b->plan;
    const int err_fd = b->err_fd;
    CHECK_TO(err_fd, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), GB_STEP_MOUNT_PRIVATE);
    CHECK_TO(err_fd, mount("tmpfs", plan->root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755"),
             GB_STEP_ROOT_TMPFS);
    for (int i = 0; i < plan->nmounts; i++) apply_mount(plan->root, err_fd, &plan->mounts[i]);
    for (int i = 0; i < plan->nrun_mounts; i++) make_run_mount_point(plan->root, err_fd, &plan->run_mounts[i]);
    char path[PATH_MAX];
    CHECK_TO(err_fd, join(path, sizeof path, plan->root, "/proc"), GB_STEP_MKDIR);
    CHECK_TO(err_fd, mkdir_parents(path, strlen(plan->root), 1), GB_STEP_MKDIR);
    // /dev is a tmpfs holding only bound device nodes and mount points: read-only now that they are in place.
    CHECK_TO(err_fd, join(path, sizeof path, plan->root, "/dev"), GB_STEP_REMOUNT);
    if (access(path, F_OK) == 0) CHECK_TO(err_fd, set_attrs(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC, 0), GB_STEP_REMOUNT);

    CHECK_TO(err_fd, b->out->ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC), GB_STEP_ROOT_NAMESPACE);
    CHECK_TO(err_fd, chdir(plan->root), GB_STEP_PIVOT_ROOT);
    CHECK_TO(err_fd, syscall(SYS_pivot_root, ".", "."), GB_STEP_PIVOT_ROOT);
    CHECK_TO(err_fd, umount2(".", MNT_DETACH), GB_STEP_DETACH_OLD_ROOT);
    CHECK_TO(err_fd, chdir("/"), GB_STEP_PIVOT_ROOT);
    CHECK_TO(err_fd, mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL),
             GB_STEP_REMOUNT_ROOT);
    CHECK_TO(err_fd, b->out->root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), GB_STEP_ROOT_NAMESPACE);
    _exit(0);
}

// /proc of the run's own pid namespace, with the kernel's writable knobs made read-only.
static void mount_proc(const struct gb_launch *spec) {
    static const char *const readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"};
    CHECK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), GB_STEP_PROC);
    for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
        if (access(readonly[i], F_OK) < 0) continue;
        CHECK(mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL), GB_STEP_BIND);
        CHECK(set_attrs(readonly[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                        AT_RECURSIVE), GB_STEP_REMOUNT);
    }
}

// A detached copy of a run's bind source, taken in the daemon's mount namespace before the child leaves
// it: private (no mount or unmount on the host reaches the run through it), nosuid, nodev, and read-only
// where asked.
static int detached_tree(const struct gb_launch *spec, const struct gb_mount *m) {
    unsigned recursive = m->kind == GB_MOUNT_DEVICE ? 0 : AT_RECURSIVE;
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursive);
    CHECK(tree, m->kind == GB_MOUNT_DEVICE ? GB_STEP_DEVICE : GB_STEP_BIND);
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_NOSUID | (m->kind == GB_MOUNT_DEVICE ? MOUNT_ATTR_NOEXEC : MOUNT_ATTR_NODEV) |
                    (m->kind == GB_MOUNT_BIND_RO ? MOUNT_ATTR_RDONLY : 0),
        .propagation = MS_PRIVATE,
    };
    CHECK(syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr), GB_STEP_REMOUNT);
    return tree;
}

// The run's root: a copy of the prepared root's namespace, with the run's own mounts on its mount points.
// The child joins the prepared namespace, makes the prepared root its root and only then copies the
// namespace, since the copy takes the root along: its root is then the copy of the prepared one.
static void enter_root(const struct gb_launch *spec) {
    int trees[GB_MAX_RUN_MOUNTS];
    if (spec->nmounts > GB_MAX_RUN_MOUNTS) report_and_exit(spec->err_fd, GB_STEP_BIND, E2BIG);
    for (int i = 0; i < spec->nmounts; i++) {
        const struct gb_mount *m = &spec->mounts[i];
        if (m->kind == GB_MOUNT_SYMLINK) report_and_exit(spec->err_fd, GB_STEP_SYMLINK, EINVAL);  // the root is read-only
        trees[i] = m->kind == GB_MOUNT_TMPFS ? -1 : detached_tree(spec, m);
    }
    CHECK(setns(spec->root_ns_fd, CLONE_NEWNS), GB_STEP_ENTER_ROOT);
    CHECK(fchdir(spec->root_dir_fd), GB_STEP_ENTER_ROOT);
    CHECK(chroot("."), GB_STEP_ENTER_ROOT);
    CHECK(unshare(CLONE_NEWNS), GB_STEP_ENTER_ROOT);
    for (int i = 0; i < spec->nmounts; i++) {
        const struct gb_mount *m = &spec->mounts[i];
        if (trees[i] < 0) {
            CHECK(mount("tmpfs", m->target, "tmpfs", MS_NOSUID | MS_NODEV, m->data), GB_STEP_TMPFS);
            continue;
        }
        CHECK(syscall(SYS_move_mount, trees[i], "", AT_FDCWD, m->target, MOVE_MOUNT_F_EMPTY_PATH), GB_STEP_BIND);
        close(trees[i]);
    }
    mount_proc(spec);
}

// A new network namespace has only a loopback interface, down: bring it up so programs can use localhost
// among themselves. Nothing else exists to reach. A namespace from the daemon's pool is already like that.
static void enter_network(const struct gb_launch *spec) {
    if (spec->net_fd >= 0) {
        CHECK(setns(spec->net_fd, CLONE_NEWNET), GB_STEP_NETNS);
    } else {
        CHECK(gb_loopback_up(), GB_STEP_LOOPBACK);
    }
}

// MARK: - Privileges

static void drop_privileges(const struct gb_launch *spec) {
    // Every capability the kernel knows: they are numbered from 0 without gaps, and the first number past
    // the last one answers EINVAL.
    for (int cap = 0; ; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL && cap > 0) break;
        report_and_exit(spec->err_fd, GB_STEP_CAPBSET, errno);
    }
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), GB_STEP_AMBIENT);
    CHECK(syscall(SYS_setgroups, 0, NULL), GB_STEP_SETGROUPS);
    CHECK(syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid), GB_STEP_SETGID);
    CHECK(syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid), GB_STEP_SETUID);
    // Changing uid set the dumpable flag of the memory, the daemon's, to fs.suid_dumpable: back to 0, so
    // that no process of the run's uid can ever read the daemon's memory through this child.
    CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), GB_STEP_DUMPABLE);
    // setresuid away from 0 clears the permitted and effective sets; inheritable needs clearing by hand.
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    CHECK(syscall(SYS_capset, &header, data), GB_STEP_CAPSET);
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), GB_STEP_NO_NEW_PRIVS);
}

// MARK: - Cgroups

// cgroup v1 has no CLONE_INTO_CGROUP: the child moves itself into each hierarchy before it does anything
// else, so no step of the setup runs outside the run's limits. Its cgroup namespace is made after that
// (not at the clone), so that the run sees its own cgroups as the root in every hierarchy.
static void join_cgroups(const struct gb_launch *spec) {
    if (spec->nprocs == 0) return;
    for (int i = 0; i < spec->nprocs; i++) {
        ssize_t n;
        do { n = write(spec->procs_fds[i], "0", 1); } while (n < 0 && errno == EINTR);
        if (n != 1) report_and_exit(spec->err_fd, GB_STEP_CGROUP, n < 0 ? errno : EIO);
    }
    CHECK(unshare(CLONE_NEWCGROUP), GB_STEP_CGROUP_NS);
}

// MARK: - Starting init

struct setup {
    const struct gb_launch *spec;
    int filter_fd;      // a sealed memfd with the seccomp program, or -1
};

// Gives init its descriptors at the numbers it expects (gb_launch.h), marks every other one close-on-exec,
// and returns the descriptor of glovebox-init to execute. Sources are first copied above the targets, since
// any of them may be 0 to 5; a failure is reported on the copy of the report pipe, whose number no longer
// moves.
static int arrange_descriptors(const struct setup *s) {
    const struct gb_launch *spec = s->spec;
    const int sources[] = {spec->stdin_fd, spec->stdout_fd, spec->stderr_fd, spec->err_fd, spec->status_fd, s->filter_fd};
    enum { COUNT = sizeof sources / sizeof sources[0], FIRST_FREE = COUNT, REPORT = GB_INIT_REPORT_FD };
    int moved[COUNT];
    moved[REPORT] = fcntl(spec->err_fd, F_DUPFD_CLOEXEC, FIRST_FREE);
    if (moved[REPORT] < 0) report_and_exit(spec->err_fd, GB_STEP_DUP, errno);
    for (int i = 0; i < COUNT; i++) {
        if (i == REPORT) continue;
        moved[i] = sources[i] < 0 ? -1 : fcntl(sources[i], F_DUPFD_CLOEXEC, FIRST_FREE);
        if (sources[i] >= 0 && moved[i] < 0) report_and_exit(moved[REPORT], GB_STEP_DUP, errno);
    }
    int init_fd = fcntl(spec->init_fd, F_DUPFD_CLOEXEC, FIRST_FREE);
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

// The child starts with a copy of the daemon's whole descriptor table: other runs' pipes, sockets of
// clients, the database. Everything the setup does not use is closed first, so that a setup that hangs
// holds no other run's pipe open (their launches wait for the end of their report pipe).
static void close_unneeded(const struct setup *s) {
    const struct gb_launch *spec = s->spec;
    enum { FIXED = 11, MAX_KEEP = FIXED + 16 };
    int keep[MAX_KEEP];
    int n = 0;
    const int fixed[FIXED] = {spec->init_fd, spec->err_fd, spec->status_fd, spec->stdin_fd, spec->stdout_fd,
                              spec->stderr_fd, spec->net_fd, s->filter_fd, spec->cgroup_fd, spec->root_ns_fd, spec->root_dir_fd};
    for (int i = 0; i < FIXED; i++) if (fixed[i] >= 0) keep[n++] = fixed[i];
    if (spec->nprocs > MAX_KEEP - FIXED) report_and_exit(spec->err_fd, GB_STEP_CLOSE_FDS, E2BIG);
    for (int i = 0; i < spec->nprocs; i++) keep[n++] = spec->procs_fds[i];
    for (int i = 1; i < n; i++) {   // insertion sort: a handful of numbers
        int v = keep[i], j = i - 1;
        while (j >= 0 && keep[j] > v) { keep[j + 1] = keep[j]; j--; }
        keep[j + 1] = v;
    }
    unsigned next = 0;  // the lowest number not yet dealt with
    for (int i = 0; i < n; i++) {
        if ((unsigned)keep[i] > next) CHECK(syscall(SYS_close_range, next, (unsigned)keep[i] - 1, 0), GB_STEP_CLOSE_FDS);
        next = (unsigned)keep[i] + 1;
    }
    CHECK(syscall(SYS_close_range, next, ~0U, 0), GB_STEP_CLOSE_FDS);
}

static int setup_main(void *arg) {
    const struct setup *s = arg;
    const struct gb_launch *spec = s->spec;
    close_unneeded(s);
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), GB_STEP_PDEATHSIG);
    join_cgroups(spec);
    if (spec->fault == GB_FAULT_STALL) for (;;) pause();     // every signal is blocked: only SIGKILL ends this

    enter_root(spec);
    CHECK(sethostname(spec->hostname, strlen(spec->hostname)), GB_STEP_HOSTNAME);
    enter_network(spec);
    CHECK(chdir(spec->cwd), GB_STEP_CHDIR);
    for (int i = 0; i < spec->nrlimits; i++) {
        struct rlimit rl = {.rlim_cur = spec->rlimits[i].soft, .rlim_max = spec->rlimits[i].hard};
        CHECK(setrlimit(spec->rlimits[i].resource, &rl), GB_STEP_RLIMIT);
    }
    CHECK(setsid(), GB_STEP_SETSID);
    drop_privileges(spec);
    // Changing credentials cleared the parent-death signal: set it again, so that if the daemon dies the
    // run's init dies, and the kernel ends everything in its pid namespace.
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), GB_STEP_PDEATHSIG);

    int init_fd = arrange_descriptors(s);
    if (spec->fault == GB_FAULT_EXEC_INIT) init_fd = -1;   // fails with EBADF, reported below
    syscall(SYS_execveat, init_fd, "", spec->init_argv, spec->envp, AT_EMPTY_PATH);
    // The report descriptor is now GB_INIT_REPORT_FD.
    struct gb_error_report r = {.step = GB_STEP_EXEC_INIT, .err = errno};
    ssize_t n;
    do { n = write(GB_INIT_REPORT_FD, &r, sizeof r); } while (n < 0 && errno == EINTR);
    _exit(127);
}

// MARK: - clone3 on a new stack

// gb_clone3_on_stack (gb_clone3.h): glibc's clone() cannot be used, since it has no CLONE_INTO_CGROUP.
#include "gb_clone3.h"
// The seccomp program as a sealed memfd: init reads it after its execve.
static int filter_memfd(const void *filter, size_t bytes) {
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

int gb_prepare_root(const struct gb_root *plan, int *pidfd, struct gb_prepared_root *out, struct gb_error_report *failure) {
    failure->step = 0;
    failure->err = 0;
    out->ns_fd = out->root_fd = -1;
    // Non-blocking: the child has exited when it is read, and another child forked meanwhile may still
    // hold a copy of the write end, so the end of the pipe cannot be waited for.
    int report[2];
    if (pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
    struct root_builder b = {.plan = plan, .err_fd = report[1], .out = out};
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWNS | CLONE_FILES | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    long pid = clone_vfork(&args, build_root_main, &b, pidfd);
    int saved = errno;
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        errno = saved;
        return -1;
    }
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int waited;
    while ((waited = waitid((idtype_t)3 /* P_PIDFD */, (id_t)*pidfd, &info, WEXITED | __WALL)) < 0 && errno == EINTR) {}
    ssize_t n;
    do { n = read(report[0], failure, sizeof *failure); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof *failure || waited < 0 || info.si_code != CLD_EXITED || info.si_status != 0) {
        if (out->ns_fd >= 0) close(out->ns_fd);
        if (out->root_fd >= 0) close(out->root_fd);
        out->ns_fd = out->root_fd = -1;
        errno = n == (ssize_t)sizeof *failure ? failure->err : EINTR;  // else killed (the watchdog)
        return -1;
    }
    return 0;
}

pid_t gb_launch(const struct gb_launch *spec, int *pidfd) {
    struct setup s = {.spec = spec, .filter_fd = -1};
    if (spec->filter && (s.filter_fd = filter_memfd(spec->filter, (size_t)spec->filter_len * sizeof(struct sock_filter))) < 0) {
        return -1;
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = gb_namespace_flags() | CLONE_PIDFD;
    // The mount namespace is a copy of the prepared root's (enter_root), not of the daemon's; a network
    // namespace made ahead of need is joined by the child instead (enter_network); on cgroup v1 the cgroup
    // namespace is made once the child is in its cgroups (join_cgroups).
    args.flags &= ~(uint64_t)CLONE_NEWNS;
    if (spec->net_fd >= 0) args.flags &= ~(uint64_t)CLONE_NEWNET;
    if (spec->nprocs > 0) args.flags &= ~(uint64_t)CLONE_NEWCGROUP;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    if (spec->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)spec->cgroup_fd;
    }
    long pid = clone_vfork(&args, setup_main, &s, pidfd);
    int saved = errno;
    if (s.filter_fd >= 0) close(s.filter_fd);
    errno = saved;
    return (pid_t)pid;
}
