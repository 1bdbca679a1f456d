// The code that runs between clone3 and execve. Everything it needs is prepared by Swift in the parent:
// strings, arrays, the seccomp program. The child only makes async-signal-safe system calls; a failure
// writes {step, errno} to a close-on-exec pipe and _exits.
#ifndef GB_LAUNCH_H
#define GB_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

enum gb_mount_kind {
    GB_MOUNT_BIND_RO = 0,   // bind `source` read-only, nosuid, nodev at `target`
    GB_MOUNT_BIND_RW = 1,   // bind `source` read-write, nosuid, nodev at `target`
    GB_MOUNT_SYMLINK = 2,   // create a symlink at `target` pointing to `source`
    GB_MOUNT_DEVICE = 4,    // bind the host device node `source` at `target` (a file is created first)
    GB_MOUNT_TMPFS = 5,     // tmpfs at `target` with options `data`, nosuid, nodev
};

struct gb_mount {
    const char *source;
    const char *target;     // absolute path inside the new root
    const char *data;
    int kind;
    int is_dir;             // for binds: the source is a directory (else a file)
};

struct gb_rlimit {
    int resource;
    uint64_t soft, hard;
};

struct gb_launch {
    // Descriptors. All are opened close-on-exec by the parent; the launcher dups what it keeps.
    int go_fd;          // read end: the child waits for one byte (after the parent placed it in cgroups)
    int err_fd;         // write end: {step, errno} on failure; EOF at the program's execve means success
    int status_fd;      // write end: init writes the program's raw wait status before it exits
    int stdin_fd, stdout_fd, stderr_fd;
    int cgroup_fd;      // a cgroup2 directory for CLONE_INTO_CGROUP, or -1
    int net_fd;         // a fresh network namespace (loopback up, never used by another run) to join, or
                        // -1 for CLONE_NEWNET at the clone

    // The new root: an empty directory on which the child mounts a small tmpfs.
    const char *root;
    const struct gb_mount *mounts;
    int nmounts;
    const char *hostname;
    const char *cwd;    // inside the new root

    uid_t uid;
    gid_t gid;
    const struct gb_rlimit *rlimits;
    int nrlimits;

    const void *filter;         // struct sock_filter[], or NULL
    unsigned short filter_len;  // number of instructions

    const char *path;
    char *const *argv;
    char *const *envp;
};

// Steps reported on the error pipe.
enum gb_step {
    GB_STEP_WAIT_GO = 1, GB_STEP_PDEATHSIG, GB_STEP_MOUNT_PRIVATE, GB_STEP_ROOT_TMPFS, GB_STEP_MKDIR,
    GB_STEP_BIND, GB_STEP_REMOUNT, GB_STEP_SYMLINK, GB_STEP_DEVICE, GB_STEP_TMPFS,
    GB_STEP_PROC, GB_STEP_PIVOT_ROOT, GB_STEP_DETACH_OLD_ROOT, GB_STEP_REMOUNT_ROOT, GB_STEP_HOSTNAME,
    GB_STEP_CHDIR, GB_STEP_RLIMIT, GB_STEP_SETSID, GB_STEP_CAPBSET, GB_STEP_SETGROUPS, GB_STEP_SETGID,
    GB_STEP_SETUID, GB_STEP_CAPSET, GB_STEP_NO_NEW_PRIVS, GB_STEP_DUMPABLE, GB_STEP_FORK, GB_STEP_DUP,
    GB_STEP_CLOSE_FDS, GB_STEP_SIGNALS, GB_STEP_SECCOMP, GB_STEP_EXECVE, GB_STEP_AMBIENT, GB_STEP_LOOPBACK,
    GB_STEP_NETNS,
};

struct gb_error_report {
    int32_t step;
    int32_t err;
};

// Namespace flags of every run: pid, mount, network, ipc, uts, cgroup.
uint64_t gb_namespace_flags(void);

// clone3 with the run's namespaces, CLONE_PIDFD and (when cgroup_fd >= 0) CLONE_INTO_CGROUP.
// Returns the child's pid (host pid namespace) and stores its pidfd; -1 with errno on failure.
// The child never returns from this function.
pid_t gb_launch(const struct gb_launch *spec, int *pidfd_out);

// Human name of a step, for error messages.
const char *gb_step_name(int step);

#endif
