// The run's setup child: made with clone3(CLONE_VM | CLONE_VFORK) into new namespaces, it enters a copy
// of a prepared root, receives its run, drops privileges and executes glovebox-init
// (Sources/InRun/glovebox-init) as the run's pid 1, which starts the program. Everything it needs is prepared by
// Swift in the parent: strings, arrays, the seccomp program. It shares the daemon's memory until that
// execve and makes only raw system calls; a failure writes {step, errno} to the control socket (before
// the run is received) or to a close-on-exec pipe (after), and _exits.
#ifndef GB_LAUNCH_H
#define GB_LAUNCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum gb_mount_kind {
    GB_MOUNT_BIND_RO = 0,   // bind `source` read-only, nosuid, nodev at `target`
    GB_MOUNT_BIND_RW = 1,   // bind `source` read-write, nosuid, nodev at `target`
    GB_MOUNT_SYMLINK = 2,   // create a symlink at `target` pointing to `source`
    GB_MOUNT_DEVICE = 4,    // bind the host device node `source` at `target` (a file is created first)
    GB_MOUNT_TMPFS = 5,     // tmpfs at `target` with options `data`, nosuid, nodev
    GB_MOUNT_FILE = 6,      // a regular file at `target` holding `data` (0644), in a prepared root
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

// The setup child's first part, which needs nothing of a run's own: it can be done ahead of need, while
// the child then waits on `control_fd` for a run (gb_hand_over), or for the run at hand, whose message is
// already queued. Its descriptors are opened close-on-exec by the parent; the child keeps what it needs.
struct gb_setup {
    int init_fd;        // glovebox-init, opened once by the daemon (O_PATH), executed with execveat
    int control_fd;     // the child's end of a SOCK_SEQPACKET socketpair: it sends one report on it (step 0:
                        // ready), then receives the run (gb_hand_over)
    int cgroup_fd;      // a cgroup2 directory for CLONE_INTO_CGROUP, or -1
    const int *procs_fds;  // cgroup v1: each hierarchy's `tasks` (O_WRONLY); the child, still one thread,
    int nprocs;            // writes "0" to each before anything else, then unshares its cgroup namespace
    int net_fd;         // a fresh network namespace (loopback up, never used by another run) to join, or
                        // -1 for CLONE_NEWNET at the clone
    // A prepared root (gb_prepare_root), whose namespace the child copies; /proc of the run's pid
    // namespace is mounted in the copy.
    int root_ns_fd;
    int root_dir_fd;
    const char *hostname;
    int fault;          // fault injection (GLOVEBOX_FAULT), enum gb_setup_fault: GB_FAULT_STALL
};

// The run's part, handed to a child waiting after its first part. The child shares the daemon's memory
// until it executes init, so the message carries a pointer to this (which the daemon keeps until the
// launch is over) and the descriptors below, which the child's own descriptor table has not got.
struct gb_launch {
    int err_fd;         // write end: {step, errno} on failure; EOF at the program's execve means success
    int status_fd;      // write end: init writes the program's raw wait status before it exits
    int stdin_fd, stdout_fd, stderr_fd;
    int filter_fd;      // a sealed memfd holding the seccomp program (gb_filter_memfd), or -1 for none

    // The run's own mounts, on the mount points the prepared root has: binds, as detached trees taken in
    // the daemon's namespace (gb_detached_tree; trees[i]). At most GB_MAX_RUN_MOUNTS.
    const struct gb_mount *mounts;
    const int *trees;
    int nmounts;
    const char *cwd;    // inside the new root

    // Who init runs as: a uid and gid of its own (no run's, no real user's), with CAP_SETPCAP, CAP_SETUID,
    // CAP_SETGID and CAP_KILL as ambient capabilities, so that it can empty the program's bounding set,
    // make it the run's uid (init_argv says which) and forward signals to it; it keeps only CAP_KILL after.
    uid_t init_uid;
    gid_t init_gid;
    const struct gb_rlimit *rlimits;
    int nrlimits;

    char *const *init_argv;     // {"glovebox-init", "--run", UID, GID, GROUPS, "--", program argv..., NULL}:
                                // see glovebox-init
    char *const *envp;

    int nice;           // the run's nice value: a warm sandbox was made at a lower priority (WarmSandboxes)
    int fault;          // fault injection: GB_FAULT_EXEC_INIT
};

enum { GB_MAX_RUN_MOUNTS = 16, GB_MAX_ROOT_MOUNTS = 256 };

// A root prepared once for many runs: a read-only tmpfs with `mounts` (the policy's read-only paths,
// /dev) and the mount points of each run's own mounts (`run_mounts`: only their kinds and targets are
// used), pivoted into, in a mount namespace of its own whose mounts are all private.
struct gb_root {
    const char *root;           // an empty directory of the daemon's, on which the tmpfs is mounted in the
                                // new namespace (the daemon's own view of it stays empty)
    const struct gb_mount *mounts;
    const int *trees;           // for each of `mounts`: a bind's detached tree, taken by the daemon from the
                                // source it opened and checked (gb_detached_tree_of); -1 for the others
    int nmounts;
    const struct gb_mount *run_mounts;
    int nrun_mounts;
};

// Faults the setup child can be made to show, for the tests of what the daemon does then.
enum gb_setup_fault {
    GB_FAULT_NONE = 0,
    GB_FAULT_STALL = 1,        // hang before building the root, until killed (stall-setup)
    GB_FAULT_EXEC_INIT = 2,    // execute an invalid descriptor instead of glovebox-init (fail-init-exec)
};

// The descriptors glovebox-init is given, besides the program's 0, 1 and 2.
enum {
    GB_INIT_REPORT_FD = 3,  // err_fd
    GB_INIT_STATUS_FD = 4,  // status_fd
    GB_INIT_FILTER_FD = 5,  // a sealed memfd holding the seccomp program; closed when there is none
};

// Steps reported on the error pipe.
enum gb_step {
    GB_STEP_CGROUP = 1, GB_STEP_PDEATHSIG, GB_STEP_MOUNT_PRIVATE, GB_STEP_ROOT_TMPFS, GB_STEP_MKDIR,
    GB_STEP_BIND, GB_STEP_REMOUNT, GB_STEP_SYMLINK, GB_STEP_DEVICE, GB_STEP_TMPFS,
    GB_STEP_PROC, GB_STEP_PIVOT_ROOT, GB_STEP_DETACH_OLD_ROOT, GB_STEP_REMOUNT_ROOT, GB_STEP_HOSTNAME,
    GB_STEP_CHDIR, GB_STEP_RLIMIT, GB_STEP_SETSID, GB_STEP_CAPBSET, GB_STEP_SETGROUPS, GB_STEP_SETGID,
    GB_STEP_SETUID, GB_STEP_CAPSET, GB_STEP_NO_NEW_PRIVS, GB_STEP_DUMPABLE, GB_STEP_FORK, GB_STEP_DUP,
    GB_STEP_CLOSE_FDS, GB_STEP_SIGNALS, GB_STEP_SECCOMP, GB_STEP_EXECVE, GB_STEP_AMBIENT, GB_STEP_LOOPBACK,
    GB_STEP_NETNS, GB_STEP_CGROUP_NS, GB_STEP_EXEC_INIT, GB_STEP_ROOT_NAMESPACE, GB_STEP_ENTER_ROOT,
    GB_STEP_RECEIVE_RUN, GB_STEP_PRIORITY, GB_STEP_READY, GB_STEP_DEVPTS, GB_STEP_MASK_PROC,
};

struct gb_error_report {
    int32_t step;
    int32_t err;
};

// Sends `run` to a setup child over the daemon's end of its control socket: the pointer and the
// descriptors. 0, or -1 with errno (EPIPE: the child is gone).
int gb_hand_over(int control, const struct gb_launch *run);

// Empties the calling thread's capability bounding set but for the four capabilities each run's init keeps
// (CAP_SETPCAP, CAP_SETUID, CAP_SETGID, CAP_KILL): what a later execve can give, by this thread or the
// threads and children it makes. 0, or -1 with errno.
int gb_limit_bounding_set(void);

// Brings up the loopback interface of the calling thread's network namespace (a new one has it down): the
// setup child's, and the daemon's for the namespaces it makes ahead of need. 0, or -1 with errno.
int gb_loopback_up(void);

// Human name of a step, for error messages.
const char *gb_step_name(int step);

#endif
