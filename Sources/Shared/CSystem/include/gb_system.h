// Wrappers for what Swift cannot call directly that both sides use, the client (and the scientist) as well as
// the daemon: SCM_RIGHTS messages, SO_PEERCRED, openat2, pipe2, and the client's cancel on Ctrl-C. Nothing here
// needs privilege; the daemon's own wrappers are CSandbox's.
#ifndef GB_SYSTEM_H
#define GB_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

// SO_PEERCRED of a connected Unix socket.
int gb_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

// The one way descriptors travel over a Unix socket (SCM_RIGHTS), for the client, the daemon and the launcher's
// children alike. Both are raw system calls and touch nothing but the stack, so a child that shares the
// daemon's memory (clone with CLONE_VM) may call them.
enum { GB_MAX_PASSED_FDS = 32 };

// sendmsg of `len` bytes with `nfds` descriptors (none when 0; at most GB_MAX_PASSED_FDS), MSG_NOSIGNAL,
// retried on EINTR. Returns the bytes sent, or -1 with errno.
ssize_t gb_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);

// recvmsg of at most `len` bytes and at most `max` descriptors (close-on-exec, stored in fds, their number in
// *nfds), retried on EINTR; `flags` may add MSG_DONTWAIT. A message that was cut short, or that carries
// control data other than one SCM_RIGHTS of at most `max` descriptors, has every descriptor it brought closed
// and fails with EBADMSG. Returns the bytes received (0 at the end of the stream), or -1 with errno.
ssize_t gb_recv_fds(int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags);

// The same for at most one descriptor: *fd_out is -1 when none came.
ssize_t gb_send_with_fd(int sock, const void *buf, size_t len, int fd);
ssize_t gb_recv_with_fd(int sock, void *buf, size_t len, int *fd_out);

// pipe2(O_CLOEXEC) (a _GNU_SOURCE declaration).
int gb_pipe_cloexec(int fds[2]);

// openat2 with RESOLVE_* flags (see linux/openat2.h): resolve beneath dirfd, never through symlinks.
int gb_openat_beneath(int dirfd, const char *path, int flags, unsigned mode);

// Client side: SIGINT, SIGTERM and SIGHUP send a cancel frame on `sock` (send(2) is async-signal-safe)
// instead of killing the client, so the daemon ends the run and the client still gets its record.
int gb_forward_cancel_signals(int sock);

#endif
