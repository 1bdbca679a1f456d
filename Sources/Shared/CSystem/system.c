#include "gb_system.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int gb_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

ssize_t gb_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > GB_MAX_PASSED_FDS) { errno = EINVAL; return -1; }
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    union { char buf[CMSG_SPACE(GB_MAX_PASSED_FDS * sizeof(int))]; struct cmsghdr align; } control;
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    long n;
    do { n = syscall(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return (ssize_t)n;
}

// Closes every descriptor a received message carried.
static void close_received(struct msghdr *msg) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(fd);
        }
    }
}

ssize_t gb_recv_fds(int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags) {
    *nfds = 0;
    if (max < 0 || max > GB_MAX_PASSED_FDS) { errno = EINVAL; return -1; }
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union { char buf[CMSG_SPACE(GB_MAX_PASSED_FDS * sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    long n;
    do { n = syscall(SYS_recvmsg, sock, &msg, flags | MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (msg.msg_controllen == 0 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return (ssize_t)n;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    size_t count = c ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
    int valid = !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len >= CMSG_LEN(sizeof(int)) && count <= (size_t)max && CMSG_NXTHDR(&msg, c) == NULL;
    if (!valid) {
        close_received(&msg);
        errno = EBADMSG;
        return -1;
    }
    memcpy(fds, CMSG_DATA(c), count * sizeof(int));
    *nfds = (int)count;
    return (ssize_t)n;
}

ssize_t gb_send_with_fd(int sock, const void *buf, size_t len, int fd) {
    return gb_send_fds(sock, buf, len, &fd, fd >= 0 ? 1 : 0);
}

ssize_t gb_recv_with_fd(int sock, void *buf, size_t len, int *fd_out) {
    int count = 0;
    *fd_out = -1;
    ssize_t n = gb_recv_fds(sock, buf, len, fd_out, 1, &count, 0);
    if (count == 0) *fd_out = -1;
    return n;
}

int gb_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int gb_openat_beneath(int dirfd, const char *path, int flags, unsigned mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int fd;
    do { fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (fd < 0 && errno == EINTR);
    return fd;
}

static volatile sig_atomic_t cancel_socket = -1;

static void send_cancel(int sig) {
    (void)sig;
    static const unsigned char frame[5] = {0, 0, 0, 1, 2};  // length 1, kind 2 (cancel)
    int saved = errno;
    if (cancel_socket >= 0) (void)send(cancel_socket, frame, sizeof frame, MSG_NOSIGNAL | MSG_DONTWAIT);
    errno = saved;
}

int gb_forward_cancel_signals(int sock) {
    cancel_socket = sock;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = send_cancel;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGHUP, &sa, NULL) < 0) return -1;
    return 0;
}
