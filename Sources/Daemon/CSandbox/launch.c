// The launcher's side in the daemon: it starts the two children, the prepared root's builder
// (Sources/InRun/CSetupChild/root_builder.c) and a run's setup child (setup_child.c, which says how they
// live on the daemon's memory), with clone3 on a stack of their own, and reads what they report.
// The run's message is handover.c's; the children's code is InRun's, since it runs in the run's namespaces.

#include "gb_children.h"
#include "gb_launcher.h"
#include "gb_system.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// Namespace flags of every run: pid, mount, network, ipc, uts, cgroup.
static uint64_t gb_namespace_flags(void) {
    return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
}

// MARK: - clone3 on a new stack

// gb_clone3_on_stack (gb_clone3.h): glibc's clone() cannot be used, since it has no CLONE_INTO_CGROUP.
#include "gb_clone3.h"

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
    struct gb_root_builder b = {.plan = plan, .sock = sv[1]};
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWNS | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    long pid = clone_vfork(&args, gb_build_root_main, &b, pidfd);
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
    return (pid_t)clone_vfork(&args, gb_setup_main, (void *)setup, pidfd);
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
