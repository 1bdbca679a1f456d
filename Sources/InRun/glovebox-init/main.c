// glovebox-init: pid 1 of every run. gloveboxd's setup child (CSetupChild/setup_child.c) enters the run's
// root, drops every privilege and then executes this small static program in its place, so that the run's
// first process is not a copy of the daemon's address space.
//
// It starts the program in a process sharing its memory until the execve (CLONE_VM, as posix_spawn does),
// which waits until init holds only CAP_KILL, then installs the seccomp filter in the program's process
// only: a policy's denials must not apply to init, which needs wait4 and kill.
// Then it reaps every orphan, forwards signals to the program and, when the program exits, reports its
// wait status and exits, which makes the kernel kill whatever is left in the pid namespace.
//
// What it is given (by setup_child.c, see gb_launch.h):
//   argv    glovebox-init --run UID GID GROUPS -- PROGRAM ARG...  (the program's uid, gid and supplementary
//           groups, GROUPS "-" for none or "G1,G2,..."; PROGRAM is searched in the program's PATH without
//           a slash)
//   creds   a uid and gid of init's own, no run's; ambient CAP_SETPCAP, CAP_SETUID, CAP_SETGID and CAP_KILL:
//           it empties the program's bounding set and makes it the run's uid with the first three, then
//           keeps only CAP_KILL (forwarding signals)
//   envp    the program's environment
//   fd 0-2  the program's standard input, output and error
//   fd 3    GB_INIT_REPORT_FD: {step, errno} on failure; it closes at the program's execve
//   fd 4    GB_INIT_STATUS_FD: the program's raw wait status is written here
//   fd 5    GB_INIT_FILTER_FD: the seccomp filters (each a header and its struct sock_filter[]), or closed
//           for none
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

#include <linux/capability.h>
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

// MARK: - The seccomp filters

// The filters as gloveboxd writes them (SeccompProfile.bpf): for each, a header (a struct sock_filter whose
// k is the number of instructions that follow) and its instructions, installed in that order.
enum { MAX_FILTERS = 4 };
static struct sock_filter filters[MAX_FILTERS * (BPF_MAXINSNS + 1)];
static struct sock_fprog programs[MAX_FILTERS];
static int nprograms;  // 0: no filter

static void read_filter(void) {
    long flags = sys_fcntl(GB_INIT_FILTER_FD, F_GETFD, 0);
    if (flags == -EBADF) return;  // none given
    CHECK(flags, GB_STEP_SECCOMP);
    size_t got = 0;
    while (got < sizeof filters) {
        long n = sys_pread(GB_INIT_FILTER_FD, (char *)filters + got, sizeof filters - got, (long)got);
        if (n == -EINTR) continue;
        CHECK(n, GB_STEP_SECCOMP);
        if (n == 0) break;
        got += (size_t)n;
    }
    char extra;
    if (got == 0 || got % sizeof filters[0] != 0 || sys_pread(GB_INIT_FILTER_FD, &extra, 1, (long)got) != 0) {
        report_and_exit(GB_STEP_SECCOMP, -EINVAL);
    }
    size_t total = got / sizeof filters[0], at = 0;
    while (at < total) {
        size_t count = filters[at].k;
        if (nprograms == MAX_FILTERS || count == 0 || count > BPF_MAXINSNS || count > total - at - 1) {
            report_and_exit(GB_STEP_SECCOMP, -EINVAL);
        }
        programs[nprograms++] = (struct sock_fprog){.len = (unsigned short)count, .filter = &filters[at + 1]};
        at += count + 1;
    }
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

enum { MAX_GROUPS = 65536 };
static uint32_t groups[MAX_GROUPS];

struct program {
    char *const *argv;
    char *const *envp;
    uint32_t uid, gid;
    long ngroups;
};

// A decimal uid or gid; -1 when `s` is not one.
static long parse_id(const char *s, const char **end) {
    uint64_t v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && v <= 0xFFFFFFFFull) v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == s || v >= 0xFFFFFFFFull) return -1;
    *end = p;
    return (long)v;
}

// argv[2..4]: UID GID GROUPS. 0, or -EINVAL.
static long parse_identity(char **argv, struct program *p) {
    const char *end;
    long uid = parse_id(argv[2], &end);
    if (uid < 0 || *end) return -EINVAL;
    long gid = parse_id(argv[3], &end);
    if (gid < 0 || *end) return -EINVAL;
    p->uid = (uint32_t)uid;
    p->gid = (uint32_t)gid;
    p->ngroups = 0;
    if (gb_strncmp(argv[4], "-", 2) == 0) return 0;
    for (const char *s = argv[4]; ; s = end + 1) {
        long g = parse_id(s, &end);
        if (g < 0 || p->ngroups == MAX_GROUPS || (*end != ',' && *end)) return -EINVAL;
        groups[p->ngroups++] = (uint32_t)g;
        if (!*end) return 0;
    }
}

// Set by init once it holds only CAP_KILL. The program's process waits for it before anything else, so no
// code of the run's executes while init still holds the capabilities it needed to start the program.
static volatile int init_settled;

static void wait_for_init(void) {
    while (__atomic_load_n(&init_settled, __ATOMIC_ACQUIRE) == 0) (void)sys_futex_wait(&init_settled, 0);
}

static void release_program(void) {
    __atomic_store_n(&init_settled, 1, __ATOMIC_RELEASE);
    (void)sys_futex_wake(&init_settled);
}

// In the program's process, sharing init's memory until the execve, once init has settled.
static int program_main(void *arg) {
    const struct program *p = arg;
    wait_for_init();
    // Only 0, 1, 2 and the report descriptor (which closes itself at the execve) reach the program.
    CHECK(sys_fcntl(GB_INIT_REPORT_FD, F_SETFD, FD_CLOEXEC), GB_STEP_CLOSE_FDS);
    CHECK(sys_close_range(GB_INIT_REPORT_FD + 1, ~0U, 0), GB_STEP_CLOSE_FDS);
    reset_signals();
    CHECK(sys_sigprocmask(GB_SIG_SETMASK, 0), GB_STEP_SIGNALS);
    CHECK(sys_setsid(), GB_STEP_SETSID);
    // The run's identity, and no capability left: the execve below gives it none either (no_new_privs,
    // no ambient set, not root), and the bounding set is emptied as well. It holds only init's own
    // capabilities by now (the setup child dropped the rest): each drop commits new credentials, so only
    // those still there are dropped (reading is free). Past the last capability both answer EINVAL.
    for (int cap = 0; ; cap++) {
        long held = sys_prctl(PR_CAPBSET_READ, cap, 0);
        if (held == -EINVAL && cap > 0) break;
        CHECK(held, GB_STEP_CAPBSET);
        if (held) CHECK(sys_prctl(PR_CAPBSET_DROP, cap, 0), GB_STEP_CAPBSET);
    }
    CHECK(sys_setgroups(p->ngroups, groups), GB_STEP_SETGROUPS);
    CHECK(sys_setresgid(p->gid), GB_STEP_SETGID);
    CHECK(sys_setresuid(p->uid), GB_STEP_SETUID);
    CHECK(sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0), GB_STEP_AMBIENT);
    CHECK(sys_capset(0, 0, 0), GB_STEP_CAPSET);
    for (int i = 0; i < nprograms; i++) {
        CHECK(sys_prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (long)&programs[i]), GB_STEP_SECCOMP);
    }
    report_and_exit(GB_STEP_EXECVE, exec_program(p->argv[0], p->argv, p->envp));
}

static char program_stack[256 * 1024] __attribute__((aligned(16)));

static long spawn_program(const struct program *p) {
    struct clone_args args = {
        .flags = CLONE_VM,  // not CLONE_VFORK: init drops its capabilities first, then releases the program
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
    return sys_getpid() == 1 && argc >= 7 && gb_strncmp(argv[1], "--run", 6) == 0 && gb_strncmp(argv[5], "--", 3) == 0 &&
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
    // First of all: no one but root may read or write init's memory (through /proc or ptrace), since init
    // is not under the seccomp filter. execve made it dumpable.
    CHECK(sys_prctl(PR_SET_DUMPABLE, 0, 0), GB_STEP_DUMPABLE);
    // Kept across the execve (no credentials changed), set again so that it does not rest on that.
    CHECK(sys_prctl(PR_SET_PDEATHSIG, GB_SIGKILL, 0), GB_STEP_PDEATHSIG);
    CHECK(sys_sigprocmask(GB_SIG_SETMASK, ~0ULL), GB_STEP_SIGNALS);
    read_filter();

    struct program p = {.argv = argv + 6, .envp = envp};
    CHECK(parse_identity(argv, &p), GB_STEP_SETUID);
    long program = spawn_program(&p);
    CHECK(program, GB_STEP_FORK);
    // The program is the run's uid now: init keeps only CAP_KILL, to forward signals to it.
    CHECK(sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0), GB_STEP_AMBIENT);
    CHECK(sys_capset(1ull << CAP_KILL, 1ull << CAP_KILL, 0), GB_STEP_CAPSET);
    release_program();
    // init keeps only the status descriptor: the program's output pipes close when the program's
    // processes are gone, and the report pipe's end tells gloveboxd the program was executed.
    CHECK(sys_close_range(0, GB_INIT_STATUS_FD - 1, 0), GB_STEP_CLOSE_FDS);
    CHECK(sys_close_range(GB_INIT_STATUS_FD + 1, ~0U, 0), GB_STEP_CLOSE_FDS);
    reap_until_program_exits(program);
}
