// What the launcher's two children share (root_builder.c, setup_child.c) and the files they are made of:
// failure reporting, paths resolved within a root being built, and the descriptors closed at their start.
// Private to CSetupChild; Swift never sees it. Everything here runs in a child on the daemon's memory: raw system calls and the stack only
// (setup_child.c says why).
#ifndef GB_CHILD_H
#define GB_CHILD_H

#include "gb_launch.h"

#include <linux/mount.h>
#include <stdint.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
struct mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#endif

// Writes {step, err} to `fd` and exits the child with 127.
_Noreturn void report_and_exit(int fd, int step, int err);

#define CHECK_TO(fd, expr, step) do { if ((expr) < 0) report_and_exit((fd), (step), errno); } while (0)

// Closes every descriptor but `keep` (n of them, -1 entries ignored; sorted in place); a failure is
// reported on `err_fd`.
void close_all_but(int err_fd, int *keep, int n);

// Paths within a root being built (paths.c): each resolved from `root`, a descriptor of its top.
int open_in_root(int root, const char *path, uint64_t flags);
int make_path(int root, const char *target, int (*make)(int dir, const char *name, const void *arg), const void *arg);
int make_dir(int dir, const char *name, const void *arg);
int make_symlink(int dir, const char *name, const void *target);
int make_file_with(int dir, const char *name, const void *data);
int make_mount_point(int root, const char *target, int is_dir);
int set_attrs(const char *path, uint64_t set, unsigned flags);
int is_bind(int kind);

// Privileges (privileges.c): the bounding set emptied but for init's four capabilities, and the change to
// init's uid with those four kept as ambient capabilities. Failures are reported on the given descriptor.
void drop_bounding_set(int err_fd);
void drop_privileges(const struct gb_launch *run);

// The run as the setup child receives it (handover.c): a copy of the daemon's gb_launch with the
// descriptors replaced by the ones received, and the trees of its binds.
struct received_run {
    struct gb_launch run;
    int trees[GB_MAX_RUN_MOUNTS];
};
void receive_run(int control, struct received_run *out);

#pragma GCC visibility pop

#endif
