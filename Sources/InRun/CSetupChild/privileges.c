// The setup child's privileges: what it keeps for init, and the change to init's uid.

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>

// The capabilities init keeps through its execve (as ambient capabilities): to empty the program's bounding
// set and make it the run's uid, and to forward signals to it. Init drops all but CAP_KILL once the program
// is started.
static const int init_caps[] = {CAP_SETPCAP, CAP_SETUID, CAP_SETGID, CAP_KILL};
enum { INIT_CAPS = sizeof init_caps / sizeof init_caps[0] };

static int is_init_cap(int cap) {
    for (int i = 0; i < INIT_CAPS; i++) if (init_caps[i] == cap) return 1;
    return 0;
}

// Every capability but init's four leaves the bounding set, which limits what an execve can give and
// nothing this thread holds. Each drop commits new credentials, so only capabilities still there are
// dropped (reading is free): gloveboxd drops them from its own set at start (gb_limit_bounding_set), which
// its setup children inherit, and the setup child checks again in its first part, ahead of need.
// Capabilities are numbered from 0 without gaps; past the last one both calls answer EINVAL.
int gb_limit_bounding_set(void) {
    for (int cap = 0; ; cap++) {
        int held = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (held < 0 && errno == EINVAL && cap > 0) return 0;
        if (held < 0) return -1;
        if (held && !is_init_cap(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
    }
}

void drop_bounding_set(int err_fd) {
    if (gb_limit_bounding_set() < 0) report_and_exit(err_fd, GB_STEP_CAPBSET, errno);
}

// Init runs as a uid of its own, not the program's: a process of the run's uid can then neither signal,
// renice, prlimit nor trace it (the kernel's checks compare uids). The bounding set holds only init's
// four capabilities by now (drop_bounding_set); init has them as ambient capabilities, which survive its
// execve.
void drop_privileges(const struct gb_launch *run) {
    const int fd = run->err_fd;
    CHECK_TO(fd, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), GB_STEP_AMBIENT);
    // Keep the permitted set across the change of uid below (which would otherwise clear it).
    CHECK_TO(fd, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), GB_STEP_CAPSET);
    CHECK_TO(fd, syscall(SYS_setgroups, 0, NULL), GB_STEP_SETGROUPS);
    CHECK_TO(fd, syscall(SYS_setresgid, run->init_gid, run->init_gid, run->init_gid), GB_STEP_SETGID);
    CHECK_TO(fd, syscall(SYS_setresuid, run->init_uid, run->init_uid, run->init_uid), GB_STEP_SETUID);
    // Changing uid set the dumpable flag of the memory, the daemon's, to fs.suid_dumpable: back to 0, so
    // that no process of init's uid can ever read the daemon's memory through this child.
    CHECK_TO(fd, prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), GB_STEP_DUMPABLE);
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < INIT_CAPS; i++) {
        uint32_t bit = 1u << (init_caps[i] % 32);
        data[init_caps[i] / 32].effective |= bit;
        data[init_caps[i] / 32].permitted |= bit;
        data[init_caps[i] / 32].inheritable |= bit;
    }
    CHECK_TO(fd, syscall(SYS_capset, &header, data), GB_STEP_CAPSET);
    for (int i = 0; i < INIT_CAPS; i++) {
        CHECK_TO(fd, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, init_caps[i], 0, 0), GB_STEP_AMBIENT);
    }
    CHECK_TO(fd, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), GB_STEP_NO_NEW_PRIVS);
}

