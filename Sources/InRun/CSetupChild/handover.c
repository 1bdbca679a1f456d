// A run handed to its setup child: the one message, sent by the daemon (gb_hand_over) and received by the
// child (receive_run), both here so that the two can never disagree on its form.

#include "child.h"
#include "gb_system.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/socket.h>

// The message: this payload, and the run's descriptors in a fixed order (run_descriptors).
struct run_message {
    uint64_t magic;
    const struct gb_launch *run;
};
#define GB_RUN_MAGIC 0x676c6f7665626f78ULL  // "glovebox"
enum { MAX_RUN_FDS = 6 + GB_MAX_RUN_MOUNTS };
_Static_assert(MAX_RUN_FDS <= GB_MAX_PASSED_FDS, "a run's descriptors fit one message (gb_send_fds)");

// The descriptors sent with `run`: report, status, stdin, stdout, stderr, the filter (where there is one),
// then the trees of its binds in the order of its mounts. Returns their number, or -1 (EINVAL).
static int run_descriptors(const struct gb_launch *run, int fds[MAX_RUN_FDS]) {
    if (run->nmounts < 0 || run->nmounts > GB_MAX_RUN_MOUNTS) { errno = EINVAL; return -1; }
    int n = 0;
    fds[n++] = run->err_fd;
    fds[n++] = run->status_fd;
    fds[n++] = run->stdin_fd;
    fds[n++] = run->stdout_fd;
    fds[n++] = run->stderr_fd;
    if (run->filter_fd >= 0) fds[n++] = run->filter_fd;
    for (int i = 0; i < run->nmounts; i++) if (run->trees[i] >= 0) fds[n++] = run->trees[i];
    return n;
}

int gb_hand_over(int control, const struct gb_launch *run) {
    int fds[MAX_RUN_FDS];
    int nfds = run_descriptors(run, fds);
    if (nfds < 0) return -1;
    struct run_message payload = {.magic = GB_RUN_MAGIC, .run = run};
    ssize_t n = gb_send_fds(control, &payload, sizeof payload, fds, nfds);
    if (n == (ssize_t)sizeof payload) return 0;
    if (n >= 0) errno = EIO;
    return -1;
}

// The run, received in the child (close-on-exec descriptors). Anything but exactly the message the daemon
// sends is reported on the control socket as EPROTO.
void receive_run(int control, struct received_run *out) {
    struct run_message payload = {0};
    int fds[MAX_RUN_FDS];
    int got = 0;
    // A message that is not exactly the daemon's has its descriptors closed (EBADMSG) and is reported.
    ssize_t n = gb_recv_fds(control, &payload, sizeof payload, fds, MAX_RUN_FDS, &got, 0);
    if (n < 0) report_and_exit(control, GB_STEP_RECEIVE_RUN, errno == EBADMSG ? EPROTO : errno);
    if (n != (ssize_t)sizeof payload || payload.magic != GB_RUN_MAGIC || !payload.run) {
        report_and_exit(control, GB_STEP_RECEIVE_RUN, EPROTO);
    }
    out->run = *payload.run;
    struct gb_launch *run = &out->run;
    int expected[MAX_RUN_FDS];
    int count = run_descriptors(run, expected);
    if (count < 0 || count != got) report_and_exit(control, GB_STEP_RECEIVE_RUN, EPROTO);
    int i = 0;
    run->err_fd = fds[i++];
    run->status_fd = fds[i++];
    run->stdin_fd = fds[i++];
    run->stdout_fd = fds[i++];
    run->stderr_fd = fds[i++];
    if (run->filter_fd >= 0) run->filter_fd = fds[i++];
    for (int m = 0; m < run->nmounts; m++) out->trees[m] = payload.run->trees[m] >= 0 ? fds[i++] : -1;
    run->trees = out->trees;
}
