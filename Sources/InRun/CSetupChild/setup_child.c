// The run's setup child, step by step (gb_setup_main, at the end). It is made the way posix_spawn makes a
// child (Sources/Daemon/CSandbox/launch.c): clone3 with CLONE_VM | CLONE_VFORK, on a stack of its own,
// sharing the daemon's memory while the calling thread sleeps, until it executes glovebox-init. Nothing
// of the daemon is copied: a fork of a daemon with tens of MiB and a dozen busy threads cost a page-table
// copy, copy-on-write faults in every thread after it and a TLB shootdown for each (BENCHMARKS.md). The
// child has two parts. The first joins the cgroups, copies a root prepared for many runs, mounts /proc
// and enters the network: nothing of a run, so it may be done ahead of need, after which the child
// reports ready on its control socket and waits there, sleeping in recvmsg while the thread that made it
// sleeps in clone3. The second, once a run is handed over (gb_hand_over), makes the
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

#include "child.h"
#include "gb_children.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int gb_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
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

int gb_setup_main(void *arg) {
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

