// The launcher's side, in the daemon (launch.c, shims.c): it starts the prepared root's builder and a run's
// setup child (their code is Sources/InRun/CSetupChild's) and reads what they report, and it prepares what
// a run's message carries (the binds' trees, the seccomp program).
#ifndef GB_LAUNCHER_H
#define GB_LAUNCHER_H

#include "gb_launch.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gb_prepared_root {
    int ns_fd;      // the namespace (/proc/self/ns/mnt of the child that built it)
    int root_fd;    // its root directory (O_PATH)
};

// Starts a setup child: clone3 with the run's namespaces, CLONE_VM | CLONE_VFORK, CLONE_PIDFD and (when
// cgroup_fd >= 0) CLONE_INTO_CGROUP. The child does the first part, reports on the control socket, waits
// for the run there and does the rest. Returns once the child has executed glovebox-init or died, which
// may be long after (it waits for a run): the child's pid (host pid namespace), or -1 with errno when
// there is no child. The kernel stores the child's pidfd in *pidfd and its pid in *pid at the clone,
// before the child runs, so that another thread can hand it a run or kill it while this one sleeps.
pid_t gb_start_setup(const struct gb_setup *setup, int *pidfd, pid_t *pid);

// The child's report on the control socket, without waiting: 1 with *report filled in (step 0: ready),
// 0 when there is none yet, -1 with errno; EPIPE when the child closed the socket without one.
int gb_setup_report(int control, struct gb_error_report *report);

// A detached copy of a host path's mounts for a bind (GB_MOUNT_BIND_RO, GB_MOUNT_BIND_RW or
// GB_MOUNT_DEVICE), taken in the caller's mount namespace: private, nosuid, nodev (noexec for a device),
// read-only for a read-only bind and a device. A descriptor (close-on-exec), or -1 with errno.
int gb_detached_tree(const struct gb_mount *m);

// The same, of what `source` (opened with O_PATH, where the caller checked it) leads to: the tree is taken
// of that very file, whatever its path leads to now.
int gb_detached_tree_of(int source, int kind);

// The seccomp program as a sealed memfd (close-on-exec): init reads it after its execve. -1 with errno.
int gb_filter_memfd(const void *filter, size_t bytes);

// Builds a prepared root in a child (clone3 with CLONE_NEWNS, CLONE_VM, CLONE_VFORK; a copy of the descriptor
// table, closed but for a socket on which it sends the root's descriptors) and returns 0 with descriptors of
// its mount namespace, which keeps it alive, and of its root (close-on-exec) in *out. Every target path is
// resolved within the root being built (openat2, RESOLVE_IN_ROOT). On failure returns -1 with errno, and
// *failure says at which step when the child reported one (else its step is 0: the clone failed, or the
// child was killed, EINTR). The child's pidfd is stored in *pidfd at the clone, as for gb_start_setup, so that a
// watchdog can kill a build that hangs; the caller closes it (when it is not -1).
int gb_prepare_root(const struct gb_root *root, int *pidfd, struct gb_prepared_root *out, struct gb_error_report *failure);

#endif
