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
//
// No C library. Every run executes this program, and a static glibc spends a few hundred microseconds
// starting (its CPU feature probing traps to the hypervisor in a VM, IRELATIVE relocations, TLS) on work
// init never uses: measured in BENCHMARKS.md. So: its own entry point (_start below), system calls made
// directly (sys.h), a few string functions, no TLS (hence no stack protector), no errno: every call's
// result is checked as the kernel returns it, -errno on failure.

#include "gb_launch.h"
#include "sys.h"

#include <linux/filter.h>
#include <linux/limits.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <linux/wait.h>

// MARK: - Failure reporting

static _Noreturn void report_and_exit(int step, long result) {
    struct gb_error_report r = {.step = step, .err = (int32_t)-result};
    long n;
    do { n = sys_write(GB_INIT_REPORT_FD, &r, sizeof r); } while (n == -EINTR);
    sys_exit_group(127);
}

// `result` is a raw system call result: negative is -errno.
#define CHECK(result, step) do { long r_ = (result); if (r_ < 0) report_and_exit((step), r_); } while (0)

// MARK: - The seccomp program

static struct sock_filter filter[BPF_MAXINSNS];
static unsigned short filter_len;  // 0: no filter

static void read_filter(void) {
    long flags = sys_fcntl(GB_INIT_FILTER_FD, F_GETFD, 0);
    if (flags == -EBADF) return;  // none given
    CHECK(flags, GB_STEP_SECCOMP);
    size_t got = 0;
    while (got < sizeof filter) {
        long n = sys_pread(GB_INIT_FILTER_FD, (char *)filter + got, sizeof filter - got, (long)got);
        if (n == -EINTR) continue;
        CHECK(n, GB_STEP_SECCOMP);
        if (n == 0) break;
        got += (size_t)n;
    }
    char extra;
    if (got == 0 || got % sizeof filter[0] != 0 || sys_pread(GB_INIT_FILTER_FD, &extra, 1, (long)got) != 0) {
        report_and_exit(GB_STEP_SECCOMP, -EINVAL);
    }
    filter_len = (unsigned short)(got / sizeof filter[0]);
    sys_close(GB_INIT_FILTER_FD);
}

// MARK: - The program

static const char *env_value(char *const *envp, const char *name) {
    size_t n = gb_strlen(name);
    for (; envp && *envp; envp++) {
        if (gb_strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    }
    return 0;
}

// execve, searching PATH from the program's own environment when the name has no slash. Returns -errno.
static long exec_program(const char *name, char *const *argv, char *const *envp) {
    if (gb_strchr(name, '/')) return sys_execve(name, argv, envp);
    const char *path = env_value(envp, "PATH");
    if (!path) path = "/usr/bin:/bin";
    long saved = -ENOENT;
    char candidate[PATH_MAX];
    size_t name_len = gb_strlen(name);
    while (*path) {
        const char *end = gb_strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : gb_strlen(path);
        if (len > 0 && len + 1 + name_len + 1 <= sizeof candidate) {
            gb_memcpy(candidate, path, len);
            candidate[len] = '/';
            gb_memcpy(candidate + len + 1, name, name_len + 1);
            long rc = sys_execve(candidate, argv, envp);
            if (rc != -ENOENT && rc != -ENOTDIR) saved = rc;
        }
        if (!end) break;
        path = end + 1;
    }
    return saved;
}

static void reset_signals(void) {
    struct gb_kernel_sigaction dfl = {.handler = GB_SIG_DFL};
    for (int sig = 1; sig <= GB_NSIG; sig++) {
        if (sig == GB_SIGKILL || sig == GB_SIGSTOP) continue;
        sys_rt_sigaction(sig, &dfl, 0);
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
    CHECK(sys_fcntl(GB_INIT_REPORT_FD, F_SETFD, FD_CLOEXEC), GB_STEP_CLOSE_FDS);
    CHECK(sys_close_range(GB_INIT_REPORT_FD + 1, ~0U, 0), GB_STEP_CLOSE_FDS);
    reset_signals();
    CHECK(sys_sigprocmask(GB_SIG_SETMASK, 0), GB_STEP_SIGNALS);
    CHECK(sys_setsid(), GB_STEP_SETSID);
    if (filter_len > 0) {
        struct sock_fprog prog = {.len = filter_len, .filter = filter};
        CHECK(sys_prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (long)&prog), GB_STEP_SECCOMP);
    }
    report_and_exit(GB_STEP_EXECVE, exec_program(p->argv[0], p->argv, p->envp));
}

static char program_stack[256 * 1024] __attribute__((aligned(16)));

static long spawn_program(const struct program *p) {
    struct clone_args args = {
        .flags = CLONE_VM | CLONE_VFORK,
        .exit_signal = GB_SIGCHLD,
        .stack = (uint64_t)(uintptr_t)program_stack,
        .stack_size = sizeof program_stack,
    };
    return gb_clone3_on_stack(&args, sizeof args, program_main, (void *)p);
}

// MARK: - init

static _Noreturn void reap_until_program_exits(long program) {
    for (;;) {
        char info[128];  // siginfo_t
        long sig = sys_sigwaitinfo_all(info);
        if (sig < 0) continue;
        if (sig != GB_SIGCHLD) {
            sys_kill(program, (int)sig);
            continue;
        }
        for (;;) {
            int status = 0;
            long pid = sys_wait4(-1, &status, WNOHANG | __WALL);
            if (pid <= 0) break;
            if (pid != program) continue;
            long n;
            do { n = sys_write(GB_INIT_STATUS_FD, &status, sizeof status); } while (n == -EINTR);
            int exited = (status & 0x7f) == 0;
            sys_exit_group(exited ? (status >> 8) & 0xff : 128 + (status & 0x7f));
        }
    }
}

static int started_by_gloveboxd(long argc, char **argv) {
    return sys_getpid() == 1 && argc >= 3 && gb_strncmp(argv[1], "--", 3) == 0 &&
           sys_fcntl(GB_INIT_REPORT_FD, F_GETFD, 0) >= 0 && sys_fcntl(GB_INIT_STATUS_FD, F_GETFD, 0) >= 0;
}

// Called by _start (sys.h) with the initial stack: argc, argv[], NULL, envp[], NULL.
_Noreturn void gb_init_main(long *stack) {
    long argc = stack[0];
    char **argv = (char **)(stack + 1);
    char **envp = argv + argc + 1;
    if (!started_by_gloveboxd(argc, argv)) {
        static const char usage[] =
            "glovebox-init is the first process of every gloveboxd run: gloveboxd starts it inside the run's\n"
            "namespaces, as pid 1, with the descriptors it expects. It is not meant to be run by hand.\n";
        sys_write(2, usage, sizeof usage - 1);
        sys_exit_group(2);
    }
    // First of all: the program runs as the same uid, and must never read or write init's memory
    // (through /proc or ptrace), since init is not under the seccomp filter. execve made it dumpable.
    CHECK(sys_prctl(PR_SET_DUMPABLE, 0, 0), GB_STEP_DUMPABLE);
    // Kept across the execve (no credentials changed), set again so that it does not rest on that.
    CHECK(sys_prctl(PR_SET_PDEATHSIG, GB_SIGKILL, 0), GB_STEP_PDEATHSIG);
    CHECK(sys_sigprocmask(GB_SIG_SETMASK, ~0ULL), GB_STEP_SIGNALS);
    read_filter();

    struct program p = {.argv = argv + 2, .envp = envp};
    long program = spawn_program(&p);
    CHECK(program, GB_STEP_FORK);
    // init keeps only the status descriptor: the program's output pipes close when the program's
    // processes are gone, and the report pipe's end tells gloveboxd the program was executed.
    CHECK(sys_close_range(0, GB_INIT_STATUS_FD - 1, 0), GB_STEP_CLOSE_FDS);
    CHECK(sys_close_range(GB_INIT_STATUS_FD + 1, ~0U, 0), GB_STEP_CLOSE_FDS);
    reap_until_program_exits(program);
}
