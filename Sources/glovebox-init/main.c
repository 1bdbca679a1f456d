// glovebox-init: pid 1 of every run. gloveboxd's setup child (launch.c) builds the run's root, drops
// every privilege and then executes this small static program in its place, so that the run's first
// process is not a copy of the daemon's address space.
//
// It starts the program the way posix_spawn does (CLONE_VM | CLONE_VFORK), installing the seccomp filter
// in the program's process only: a policy's denials must not apply to init, which needs wait4 and kill.
// Then it reaps every orphan, forwards signals to the program and, when the program exits, reports its
// wait status and exits, which makes the kernel kill whatever is left in the pid namespace.
//
// What it is given (by launch.c, see gb_launch.h):
//   argv    glovebox-init -- PROGRAM ARG...  (PROGRAM is searched in the program's PATH without a slash)
//   envp    the program's environment
//   fd 0-2  the program's standard input, output and error
//   fd 3    GB_INIT_REPORT_FD: {step, errno} on failure; it closes at the program's execve
//   fd 4    GB_INIT_STATUS_FD: the program's raw wait status is written here
//   fd 5    GB_INIT_FILTER_FD: the seccomp program (struct sock_filter[]), or closed for none
//   every signal blocked; no_new_privs set; no capabilities; not root
// Nothing else is open: the setup child marked every other descriptor close-on-exec.

#include "gb_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report_and_exit(int step, int err) {
    struct gb_error_report r = {.step = step, .err = err};
    ssize_t n;
    do { n = write(GB_INIT_REPORT_FD, &r, sizeof r); } while (n < 0 && errno == EINTR);
    _exit(127);
}

#define CHECK(expr, step) do { if ((expr) < 0) report_and_exit((step), errno); } while (0)

// MARK: - The seccomp program

static struct sock_filter filter[BPF_MAXINSNS];
static unsigned short filter_len;  // 0: no filter

static void read_filter(void) {
    if (fcntl(GB_INIT_FILTER_FD, F_GETFD) < 0) {
        if (errno != EBADF) report_and_exit(GB_STEP_SECCOMP, errno);
        return;  // none given
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = pread(GB_INIT_FILTER_FD, (char *)filter + got, sizeof filter - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) report_and_exit(GB_STEP_SECCOMP, errno);
        if (n == 0) break;
        got += (size_t)n;
        if (got == sizeof filter) break;
    }
    char extra;
    if (got == 0 || got % sizeof filter[0] != 0 || pread(GB_INIT_FILTER_FD, &extra, 1, (off_t)got) != 0) {
        report_and_exit(GB_STEP_SECCOMP, EINVAL);
    }
    filter_len = (unsigned short)(got / sizeof filter[0]);
    close(GB_INIT_FILTER_FD);
}

// MARK: - The program

static const char *env_value(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    }
    return NULL;
}

// execve, searching PATH from the program's own environment when the name has no slash.
static int exec_program(const char *name, char *const *argv, char *const *envp) {
    if (strchr(name, '/')) return execve(name, argv, envp);
    const char *path = env_value(envp, "PATH");
    if (!path) path = "/usr/bin:/bin";
    int saved = ENOENT;
    char candidate[PATH_MAX];
    size_t name_len = strlen(name);
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len + 1 + name_len + 1 <= sizeof candidate) {
            memcpy(candidate, path, len);
            candidate[len] = '/';
            memcpy(candidate + len + 1, name, name_len + 1);
            execve(candidate, argv, envp);
            if (errno != ENOENT && errno != ENOTDIR) saved = errno;
        }
        if (!end) break;
        path = end + 1;
    }
    errno = saved;
    return -1;
}

static void reset_signals(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, NULL);  // fails harmlessly for glibc-reserved real-time signals
    }
}

struct program {
    char *const *argv;
    char *const *envp;
};

// In the program's process, sharing init's memory until the execve (init sleeps meanwhile).
static int program_main(void *arg) {
    const struct program *p = arg;
    // Only 0, 1, 2 and the report descriptor (which closes itself at the execve) reach the program.
    CHECK(fcntl(GB_INIT_REPORT_FD, F_SETFD, FD_CLOEXEC), GB_STEP_CLOSE_FDS);
    CHECK(syscall(SYS_close_range, GB_INIT_REPORT_FD + 1, ~0U, 0), GB_STEP_CLOSE_FDS);
    reset_signals();
    sigset_t none;
    sigemptyset(&none);
    CHECK(sigprocmask(SIG_SETMASK, &none, NULL), GB_STEP_SIGNALS);
    CHECK(setsid(), GB_STEP_SETSID);
    if (filter_len > 0) {
        struct sock_fprog prog = {.len = filter_len, .filter = filter};
        CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), GB_STEP_SECCOMP);
    }
    exec_program(p->argv[0], p->argv, p->envp);
    report_and_exit(GB_STEP_EXECVE, errno);
    return 127;
}

static char program_stack[256 * 1024] __attribute__((aligned(16)));

static pid_t spawn_program(const struct program *p) {
    return clone(program_main, program_stack + sizeof program_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)p);
}

// MARK: - init

static _Noreturn void reap_until_program_exits(pid_t program) {
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(program, sig);
            continue;
        }
        for (;;) {
            int status = 0;
            pid_t pid = (pid_t)syscall(SYS_wait4, -1, &status, WNOHANG | __WALL, NULL);
            if (pid <= 0) break;
            if (pid != program) continue;
            ssize_t n;
            do { n = write(GB_INIT_STATUS_FD, &status, sizeof status); } while (n < 0 && errno == EINTR);
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}

static int started_by_gloveboxd(int argc, char **argv) {
    return getpid() == 1 && argc >= 3 && strcmp(argv[1], "--") == 0 &&
           fcntl(GB_INIT_REPORT_FD, F_GETFD) >= 0 && fcntl(GB_INIT_STATUS_FD, F_GETFD) >= 0;
}

int main(int argc, char **argv, char **envp) {
    if (!started_by_gloveboxd(argc, argv)) {
        static const char usage[] =
            "glovebox-init is the first process of every gloveboxd run: gloveboxd starts it inside the run's\n"
            "namespaces, as pid 1, with the descriptors it expects. It is not meant to be run by hand.\n";
        ssize_t n = write(2, usage, sizeof usage - 1);
        (void)n;
        return 2;
    }
    // First of all: the program runs as the same uid, and must never read or write init's memory
    // (through /proc or ptrace), since init is not under the seccomp filter. execve made it dumpable.
    CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), GB_STEP_DUMPABLE);
    // Kept across the execve (no credentials changed), set again so that it does not rest on that.
    CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), GB_STEP_PDEATHSIG);
    sigset_t all;
    sigfillset(&all);
    CHECK(sigprocmask(SIG_SETMASK, &all, NULL), GB_STEP_SIGNALS);
    read_filter();

    struct program p = {.argv = argv + 2, .envp = envp};
    pid_t program = spawn_program(&p);
    CHECK(program, GB_STEP_FORK);
    // init keeps only the status descriptor: the program's output pipes close when the program's
    // processes are gone, and the report pipe's end tells gloveboxd the program was executed.
    CHECK(syscall(SYS_close_range, 0, GB_INIT_STATUS_FD - 1, 0), GB_STEP_CLOSE_FDS);
    CHECK(syscall(SYS_close_range, GB_INIT_STATUS_FD + 1, ~0U, 0), GB_STEP_CLOSE_FDS);
    reap_until_program_exits(program);
}
