// The daemon's wrappers for what Swift cannot call directly: mounts, loop devices, idmapped mounts, device
// filters, namespaces, timers and the like, all root's. The wrappers the client uses too are CSystem's.
#ifndef GB_SHIMS_H
#define GB_SHIMS_H

#include <stdint.h>
#include <sys/types.h>

// SO_PEERGROUPS of a connected Unix socket: the peer's supplementary groups when it connected. Returns their
// number (at most `max` stored), -(needed + 1) when `max` is too small, or INT32_MIN with errno.
int gb_peer_groups(int fd, gid_t *groups, int max);

// The supplementary groups gb_access_as takes at most (the kernel's NGROUPS_MAX is 65536).
enum { NGROUPS_MAX_CHECKED = 65536 };

// faccessat2(fd, "", mode, AT_EMPTY_PATH | AT_EACCESS) as uid, gid and groups: the calling thread's file
// system ids and groups are switched for the check and switched back (the process aborts if that fails).
// 0, or -1 with errno (EACCES: not allowed).
int gb_access_as(int fd, uid_t uid, gid_t gid, const gid_t *groups, int ngroups, int mode);

// fcntl(F_SETPIPE_SZ): the pipe's capacity, at least `bytes` (rounded up by the kernel); returns it.
int gb_set_pipe_size(int fd, int bytes);

int gb_pidfd_send_signal(int pidfd, int sig);
int gb_close_range(unsigned first, unsigned last);

// openat2 of an absolute path that must not pass through any symlink (mount crossings allowed).
int gb_open_no_symlinks(const char *path, int flags);

// open(path, O_PATH | O_CLOEXEC): a descriptor that names a file (for execveat) without opening it.
int gb_open_path(const char *path);

// prctl(PR_SET_DUMPABLE, 0): no core dumps, and /proc and ptrace access to this process's memory for
// root alone.
int gb_clear_dumpable(void);

// An overlay mount (nosuid, nodev) with the given options.
int gb_mount_overlay(const char *target, const char *options);

// Attaches `backing_fd` to a free loop device with LO_FLAGS_AUTOCLEAR (the device detaches itself when
// its last user, the mount, goes away). Writes "/dev/loopN" to `name` and returns the device's open
// descriptor, or -1 with errno. Retries when another process takes the same free device first.
int gb_loop_attach(int backing_fd, char *name, size_t name_cap);

// A user namespace (as a descriptor) to idmap a client's workdir for its run: uid `client_uid` is seen as
// `run_uid` and the other way round, and the same for the gids; every other id is seen as itself.
int gb_idmap_userns(uid_t client_uid, uid_t run_uid, gid_t client_gid, gid_t run_gid);

// Clones the mount of directory `dirfd` (not its submounts), applies the idmapping of `userns_fd`, and
// attaches the clone at `target` (an existing directory). 0 or -1 with errno.
int gb_idmapped_bind(int dirfd, int userns_fd, const char *target);

// unshare(CLONE_NEWNS) and make every mount a slave: mounts made after this stay private to the process.
int gb_private_mount_namespace(void);

// A device cgroup entry's minor that stands for every minor of its major.
#define GB_ANY_MINOR 0xFFFFFFFFu
// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program that allows exactly the given character devices
// (read, write, mknod) and attaches it to the cgroup2 directory `cgroup_fd`. Returns 0 or -1 with errno.
int gb_attach_device_filter(int cgroup_fd, const uint32_t *majors, const uint32_t *minors, int count);

// accept4(SOCK_CLOEXEC).
int gb_accept(int listener);

// prctl(PR_GET_SECCOMP): 0 when seccomp is available and not applied, -1 with errno otherwise.
int gb_seccomp_available(void);

// statfs(2).f_type of a path, or -1 with errno.
long gb_fs_magic(const char *path);
// The same for the filesystem `fd` is on.
long gb_fd_fs_magic(int fd);

// memfd_create(name, MFD_CLOEXEC).
int gb_memfd(const char *name);

// major() and minor() of a device number (macros in C).
unsigned gb_major(uint64_t dev);
unsigned gb_minor(uint64_t dev);

// mallopt(M_ARENA_MAX, n).
int gb_limit_malloc_arenas(int n);

// eventfd(0, EFD_CLOEXEC).
int gb_eventfd(void);

// timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC).
int gb_timerfd(void);
// Sets a timerfd to go off once at `at` (CLOCK_MONOTONIC seconds, absolute; a time already past goes off
// at once), or disarms it when `at` <= 0.
int gb_timerfd_set(int fd, double at);

// mount(2) for the daemon's own volumes (tmpfs), and umount2(MNT_DETACH).
int gb_mount_tmpfs(const char *target, const char *options);
// The same, noexec as well.
int gb_mount_tmpfs_noexec(const char *target, const char *options);
int gb_mount_ext4(const char *device, const char *target, const char *options);
int gb_umount(const char *target);

// A new network namespace with its loopback up, made in the calling thread (unshare(CLONE_NEWNET)), which
// then returns to the namespace `home_fd` names. Returns a descriptor of the new namespace, or -1 with
// errno. When even the return failed, *stranded is set: the thread is left in the new namespace and must
// not be used for anything else.
int gb_make_network_namespace(int home_fd, int *stranded);

// Sets the calling thread's own nice value (Linux keeps one per thread). 0, or -1 with errno.
int gb_set_thread_nice(int nice);

#endif
