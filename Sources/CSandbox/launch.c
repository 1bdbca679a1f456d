// The run's first process: clone3 into new namespaces, build the root, drop privileges, then act as the
// run's init (pid 1) while a child installs seccomp and execs the program.
//
// Only raw system calls and pure string helpers run in the child. glibc wrappers that keep process-wide
// state are avoided on purpose: the child comes from a raw clone3 of a multithreaded daemon, so glibc
// still believes the daemon's other threads exist (its setxid broadcast and fork handlers would touch
// them, or deadlock on locks those threads held). Hence syscall(SYS_setresuid), no fork() and no malloc;
// the program's process comes from glibc's clone() wrapper, a bare system call on a stack of its own.

#include "gb_launch.h"
#include "gb_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
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
    [GB_STEP_WAIT_GO] = "wait for the supervisor", [GB_STEP_PDEATHSIG] = "set parent-death signal",
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
    [GB_STEP_NETNS] = "join the network namespace",
};

const char *gb_step_name(int step) {
    if (step > 0 && step < (int)(sizeof(step_names) / sizeof(step_names[0])) && step_names[step]) return step_names[step];
    return "unknown step";
}

// MARK: - Failure reporting

static void report_and_exit(int fd, int step, int err) {
    struct gb_error_report r = {.step = step, .err = err};
    ssize_t n;
    do { n = write(fd, &r, sizeof r); } while (n < 0 && errno == EINTR);
    _exit(127);
}

#define CHECK(expr, step) do { if ((expr) < 0) report_and_exit(spec->err_fd, (step), errno); } while (0)

// MARK: - Paths (fixed buffers, no allocation)

static int join(char *out, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > cap) { errno = ENAMETOOLONG; return -1; }
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return 0;
}

// mkdir -p for every parent of `path` (and `path` itself when `last` is set).
static int mkdir_parents(char *path, int last) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST) return -1;
    }
    if (last && mkdir(path, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

static int make_mount_point(char *path, int is_dir) {
    if (mkdir_parents(path, is_dir) < 0) return -1;
    if (is_dir) return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return errno == EEXIST ? 0 : -1;
    close(fd);
    return 0;
}

static int set_attrs(const char *path, uint64_t set, unsigned flags) {
    struct mount_attr attr = {.attr_set = set};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr);
}

// MARK: - Building the root

static void apply_mount(const struct gb_launch *spec, const struct gb_mount *m) {
    char path[PATH_MAX];
    CHECK(join(path, sizeof path, spec->root, m->target), GB_STEP_MKDIR);
    switch (m->kind) {
    case GB_MOUNT_BIND_RO:
    case GB_MOUNT_BIND_RW:
        CHECK(make_mount_point(path, m->is_dir), GB_STEP_MKDIR);
        CHECK(mount(m->source, path, NULL, MS_BIND | MS_REC, NULL), GB_STEP_BIND);
        CHECK(set_attrs(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                        (m->kind == GB_MOUNT_BIND_RO ? MOUNT_ATTR_RDONLY : 0), AT_RECURSIVE), GB_STEP_REMOUNT);
        break;
    case GB_MOUNT_SYMLINK:
        CHECK(mkdir_parents(path, 0), GB_STEP_MKDIR);
        CHECK(symlink(m->source, path), GB_STEP_SYMLINK);
        break;
    case GB_MOUNT_DEVICE:
        CHECK(make_mount_point(path, 0), GB_STEP_MKDIR);
        CHECK(mount(m->source, path, NULL, MS_BIND, NULL), GB_STEP_DEVICE);
        CHECK(set_attrs(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0), GB_STEP_REMOUNT);
        break;
    case GB_MOUNT_TMPFS:
        CHECK(mkdir_parents(path, 1), GB_STEP_MKDIR);
        CHECK(mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, m->data), GB_STEP_TMPFS);
        break;
    default:
        report_and_exit(spec->err_fd, GB_STEP_MKDIR, EINVAL);
    }
}

// /proc of the run's own pid namespace, with the kernel's writable knobs made read-only.
static void mount_proc(const struct gb_launch *spec) {
    static const char *const readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"};
    char path[PATH_MAX];
    CHECK(join(path, sizeof path, spec->root, "/proc"), GB_STEP_PROC);
    CHECK(mkdir_parents(path, 1), GB_STEP_MKDIR);
    CHECK(mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), GB_STEP_PROC);
    for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
        CHECK(join(path, sizeof path, spec->root, readonly[i]), GB_STEP_PROC);
        if (access(path, F_OK) < 0) continue;
        CHECK(mount(path, path, NULL, MS_BIND | MS_REC, NULL), GB_STEP_BIND);
        CHECK(set_attrs(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                        AT_RECURSIVE), GB_STEP_REMOUNT);
    }
}

static void build_root(const struct gb_launch *spec) {
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), GB_STEP_MOUNT_PRIVATE);
    CHECK(mount("tmpfs", spec->root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755"),
          GB_STEP_ROOT_TMPFS);
    for (int i = 0; i < spec->nmounts; i++) apply_mount(spec, &spec->mounts[i]);
    mount_proc(spec);
    // /dev is a tmpfs holding only bound device nodes: make it read-only now that they are in place.
    char dev[PATH_MAX];
    CHECK(join(dev, sizeof dev, spec->root, "/dev"), GB_STEP_REMOUNT);
    if (access(dev, F_OK) == 0) CHECK(set_attrs(dev, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC, 0), GB_STEP_REMOUNT);

    CHECK(chdir(spec->root), GB_STEP_PIVOT_ROOT);
    CHECK(syscall(SYS_pivot_root, ".", "."), GB_STEP_PIVOT_ROOT);
    CHECK(umount2(".", MNT_DETACH), GB_STEP_DETACH_OLD_ROOT);
    CHECK(chdir("/"), GB_STEP_PIVOT_ROOT);
    CHECK(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL), GB_STEP_REMOUNT_ROOT);
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
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) report_and_exit(spec->err_fd, GB_STEP_CAPBSET, errno);
    }
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), GB_STEP_AMBIENT);
    CHECK(syscall(SYS_setgroups, 0, NULL), GB_STEP_SETGROUPS);
    CHECK(syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid), GB_STEP_SETGID);
    CHECK(syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid), GB_STEP_SETUID);
    // setresuid away from 0 clears the permitted and effective sets; inheritable needs clearing by hand.
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    CHECK(syscall(SYS_capset, &header, data), GB_STEP_CAPSET);
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), GB_STEP_NO_NEW_PRIVS);
}

// MARK: - The program

static const char *env_value(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    }
    return NULL;
}

// execve, searching PATH from the program's own environment when the name has no slash.
static int exec_program(const struct gb_launch *spec) {
    if (strchr(spec->path, '/')) return execve(spec->path, spec->argv, spec->envp);
    const char *path = env_value(spec->envp, "PATH");
    if (!path) path = "/usr/bin:/bin";
    int saved = ENOENT;
    char candidate[PATH_MAX];
    size_t name_len = strlen(spec->path);
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len + 1 + name_len + 1 <= sizeof candidate) {
            memcpy(candidate, path, len);
            candidate[len] = '/';
            memcpy(candidate + len + 1, spec->path, name_len + 1);
            execve(candidate, spec->argv, spec->envp);
            if (errno != ENOENT && errno != ENOTDIR) saved = errno;
        }
        if (!end) break;
        path = end + 1;
    }
    errno = saved;
    return -1;
}

static void close_all_but(int keep) {
    if (keep > 0) syscall(SYS_close_range, 0, keep - 1, 0);
    syscall(SYS_close_range, keep + 1, ~0U, 0);
}

static void reset_signals(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, NULL);  // fails harmlessly for glibc-reserved real-time signals
    }
}

static _Noreturn void run_program(const struct gb_launch *spec) {
    CHECK(dup2(spec->stdin_fd, 0), GB_STEP_DUP);
    CHECK(dup2(spec->stdout_fd, 1), GB_STEP_DUP);
    CHECK(dup2(spec->stderr_fd, 2), GB_STEP_DUP);
    // Only 0, 1, 2 and the close-on-exec error pipe survive; the pipe closes itself at execve.
    if (spec->err_fd > 3) syscall(SYS_close_range, 3, spec->err_fd - 1, 0);
    syscall(SYS_close_range, spec->err_fd + 1, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    CHECK(sigprocmask(SIG_SETMASK, &none, NULL), GB_STEP_SIGNALS);
    CHECK(setsid(), GB_STEP_SETSID);
    if (spec->filter) {
        struct sock_fprog prog = {.len = spec->filter_len, .filter = (struct sock_filter *)spec->filter};
        CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), GB_STEP_SECCOMP);
    }
    exec_program(spec);
    report_and_exit(spec->err_fd, GB_STEP_EXECVE, errno);
    _exit(127);
}

// The program's process starts the way posix_spawn starts one: CLONE_VM | CLONE_VFORK, on a stack of its
// own, sharing init's memory until its execve. init is a copy of the whole daemon's address space, and a
// plain fork would copy those page tables once more only for the child to replace them at execve; with
// CLONE_VFORK init sleeps until then, so nothing else touches the shared memory meanwhile.
enum { PROGRAM_STACK_BYTES = 256 * 1024 };

static int program_entry(void *spec) {
    run_program((const struct gb_launch *)spec);
}

static pid_t spawn_program(const struct gb_launch *spec) {
    void *stack = mmap(NULL, PROGRAM_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    // glibc's clone() wrapper starts the child on the new stack; it takes no locks and runs no fork handlers.
    return clone(program_entry, (char *)stack + PROGRAM_STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)spec);
}

// MARK: - init

// pid 1 of the run: reaps every orphan, forwards signals to the program, and when the program exits
// reports its wait status and exits, which makes the kernel kill whatever is left in the namespace.
static _Noreturn void run_init(const struct gb_launch *spec, pid_t program) {
    int status_fd = spec->status_fd;
    close_all_but(status_fd);
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(program, sig);
            continue;
        }
        for (;;) {
            int status = 0;
            pid_t pid = (pid_t)syscall(SYS_wait4, -1, &status, WNOHANG | __WALL, NULL);
            if (pid <= 0) break;
            if (pid != program) continue;
            ssize_t n;
            do { n = write(status_fd, &status, sizeof status); } while (n < 0 && errno == EINTR);
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}

static _Noreturn void child_main(const struct gb_launch *spec) {
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), GB_STEP_PDEATHSIG);
    char go;
    ssize_t n;
    do { n = read(spec->go_fd, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1) report_and_exit(spec->err_fd, GB_STEP_WAIT_GO, n < 0 ? errno : EPIPE);

    build_root(spec);
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
    // init's memory must not be readable or writable through /proc by the program (same uid).
    CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), GB_STEP_DUMPABLE);

    reset_signals();
    sigset_t all;
    sigfillset(&all);
    CHECK(sigprocmask(SIG_SETMASK, &all, NULL), GB_STEP_SIGNALS);

    pid_t program = spawn_program(spec);
    CHECK(program, GB_STEP_FORK);
    run_init(spec, program);
}

pid_t gb_launch(const struct gb_launch *spec, int *pidfd_out) {
    int pidfd = -1;
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = gb_namespace_flags() | CLONE_PIDFD;
    // A network namespace made ahead of need is joined by the child instead (enter_network).
    if (spec->net_fd >= 0) args.flags &= ~(uint64_t)CLONE_NEWNET;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.exit_signal = SIGCHLD;
    if (spec->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)spec->cgroup_fd;
    }
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return -1;
    if (pid == 0) child_main(spec);
    *pidfd_out = pidfd;
    return (pid_t)pid;
}
