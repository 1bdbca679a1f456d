// The prepared root's builder: a child of the launcher (gb_prepare_root, in the daemon) that builds one
// root for many runs and hands it over.

#include "child.h"
#include "gb_children.h"
#include "gb_system.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>

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
int gb_build_root_main(void *arg) {
    const struct gb_root_builder *b = arg;
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

