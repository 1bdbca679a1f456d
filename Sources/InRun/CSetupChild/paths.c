#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <limits.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>

// MARK: - Paths within a root being built

// Every path of a root being built is resolved within it, from a descriptor of its top: a symlink on the
// way (one the policy's read-only list recreates, or one inside a bound host directory) resolves as it
// would inside the sandbox, and ".." stops at the top, so no mount point, file or symlink is ever made on
// the host, and no mount lands there. The paths are absolute targets inside the root, already checked
// (PolicyRules.pathProblem: no ".", "..", "//" or trailing "/").

// openat2 answers EAGAIN when a rename or mount anywhere on the machine raced with its ".." handling (a
// symlink's target may hold ".."; the daemon mounts for every run): tried again a few times.
int open_in_root(int root, const char *path, uint64_t flags) {
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC | flags,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = -1;
    for (int attempt = 0; attempt < 16; attempt++) {
        fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN) break;
    }
    return fd;
}

// Calls make(dir, name) with the directory holding `path`'s last component, opened within the root, and
// that component's name. `path` is written to, and restored.
static int at_parent(int root, char *path, int (*make)(int dir, const char *name, const void *arg), const void *arg) {
    char *slash = strrchr(path, '/');
    if (!slash || slash[1] == '\0') { errno = EINVAL; return -1; }
    *slash = '\0';
    int dir = open_in_root(root, slash == path ? "/" : path, O_DIRECTORY);
    *slash = '/';
    if (dir < 0) return -1;
    int rc = make(dir, slash + 1, arg);
    int saved = errno;
    close(dir);
    errno = saved;
    return rc;
}

int make_dir(int dir, const char *name, const void *arg) {
    (void)arg;
    return mkdirat(dir, name, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

// A file mount point is made with mknod: an empty regular file, never opened.
static int make_file(int dir, const char *name, const void *arg) {
    (void)arg;
    return mknodat(dir, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST ? -1 : 0;
}

int make_symlink(int dir, const char *name, const void *target) {
    return symlinkat(target, dir, name);
}

// A new regular file holding the NUL-terminated `data`.
int make_file_with(int dir, const char *name, const void *data) {
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t len = strlen(data), done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; close(fd); errno = e; return -1; }
        done += (size_t)n;
    }
    return close(fd);
}

// Makes `target` within the root: every missing parent directory, then `target` itself with make(dir,
// name, arg).
int make_path(int root, const char *target, int (*make)(int dir, const char *name, const void *arg), const void *arg) {
    char path[PATH_MAX];
    size_t len = strlen(target);
    if (len >= sizeof path) { errno = ENAMETOOLONG; return -1; }
    memcpy(path, target, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = at_parent(root, path, make_dir, NULL);
        *p = '/';
        if (rc < 0) return -1;
    }
    return at_parent(root, path, make, arg);
}

// Makes `target`'s mount point (a directory, or an empty file) and its parents within the root, and
// returns a descriptor of it (O_PATH).
int make_mount_point(int root, const char *target, int is_dir) {
    if (make_path(root, target, is_dir ? make_dir : make_file, NULL) < 0) return -1;
    return open_in_root(root, target, is_dir ? O_DIRECTORY : 0);
}

int set_attrs(const char *path, uint64_t set, unsigned flags) {
    struct mount_attr attr = {.attr_set = set};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr);
}

int is_bind(int kind) { return kind == GB_MOUNT_BIND_RO || kind == GB_MOUNT_BIND_RW || kind == GB_MOUNT_DEVICE; }
