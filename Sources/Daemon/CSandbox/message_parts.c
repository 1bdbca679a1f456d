// What the daemon prepares for a run's message before any child sees it (SandboxLauncher, PreparedRoots):
// the detached trees of its binds, taken of sources the daemon opened and checked, and the seccomp program
// as a sealed memfd.

#include "gb_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

// A detached copy of a host path's mounts (for a bind), taken in the caller's mount namespace: private (no
// mount or unmount on the host reaches a run through it), nosuid, nodev (noexec instead for a device
// node), and read-only where asked. A device node's is its own mount only, and read-only: its inode is the
// host's, whose times and mode a run could otherwise change (reading and writing the device itself do
// not need a writable mount). `path` is resolved from `dir` (AT_EMPTY_PATH in `flags`: `dir` itself).
static int detach(int dir, const char *path, unsigned flags, int kind) {
    unsigned recursive = kind == GB_MOUNT_DEVICE ? 0 : AT_RECURSIVE;
    int tree = (int)syscall(SYS_open_tree, dir, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursive | flags);
    if (tree < 0) return -1;
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_NOSUID | (kind == GB_MOUNT_DEVICE ? MOUNT_ATTR_NOEXEC : MOUNT_ATTR_NODEV) |
                    (kind == GB_MOUNT_BIND_RO || kind == GB_MOUNT_DEVICE ? MOUNT_ATTR_RDONLY : 0),
        .propagation = MS_PRIVATE,
    };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) < 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

static int is_bind(int kind) { return kind == GB_MOUNT_BIND_RO || kind == GB_MOUNT_BIND_RW || kind == GB_MOUNT_DEVICE; }

int gb_detached_tree(const struct gb_mount *m) {
    if (!is_bind(m->kind)) { errno = EINVAL; return -1; }
    return detach(AT_FDCWD, m->source, 0, m->kind);
}

int gb_detached_tree_of(int source, int kind) {
    if (!is_bind(kind)) { errno = EINVAL; return -1; }
    return detach(source, "", AT_EMPTY_PATH, kind);
}

// The filter sent with a run, as a sealed memfd that init reads after its execve.
int gb_filter_memfd(const void *filter, size_t bytes) {
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
