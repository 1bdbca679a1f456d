// Wrappers for what Swift cannot call directly that both sides use, the client (and the scientist) as well as
// the daemon: SCM_RIGHTS messages, SO_PEERCRED, openat2, pipe2, and the client's cancel on Ctrl-C. Nothing here
// needs privilege; the daemon's own wrappers are CSandbox's.
#ifndef GB_SYSTEM_H
#define GB_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

// SO_PEERCRED of a connected Unix socket.
int gb_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

// sendmsg/recvmsg of a byte buffer with at most one descriptor (SCM_RIGHTS).
// gb_recv_with_fd stores -1 in *fd_out when none came; received descriptors are close-on-exec.
// A message carrying more than one descriptor, or other control data, closes them all and fails with EBADMSG.
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
