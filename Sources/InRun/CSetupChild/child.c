// What both children share: the names of the steps they report, the report itself, and the closing of the
// daemon's descriptors they start with.

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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

_Noreturn void report_and_exit(int fd, int step, int err) {
    struct gb_error_report r = {.step = step, .err = err};
    ssize_t n;
    do { n = write(fd, &r, sizeof r); } while (n < 0 && errno == EINTR);
    _exit(127);
}

// MARK: - The daemon's descriptors

// Closes every descriptor but `keep` (n of them, -1 entries ignored): the child starts with a copy of the
// daemon's whole descriptor table (other runs' pipes, sockets of clients, the database), and a setup that
// hangs or waits must hold none of it open (their launches wait for the end of their report pipe).
void close_all_but(int err_fd, int *keep, int n) {
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

