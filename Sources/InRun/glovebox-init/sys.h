// What glovebox-init needs instead of a C library: its entry point, the system calls it makes, and the
// few memory and string functions it (and the compiler) uses. x86_64 and aarch64.
//
// System calls return what the kernel returns: a value, or -errno.
#ifndef GB_INIT_SYS_H
#define GB_INIT_SYS_H

#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/sched.h>
#include <stddef.h>
#include <stdint.h>

#include "gb_clone3.h"

// MARK: - Entry point

// The kernel starts a static executable at _start with the initial stack (argc, argv, envp) at the stack
// pointer and no frame: pass that pointer on, on a 16-byte aligned stack.
_Noreturn void gb_init_main(long *stack);
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, @function\n"
    "_start:\n"
    "    xor %ebp, %ebp\n"
    "    mov %rsp, %rdi\n"
    "    and $-16, %rsp\n"
    "    call gb_init_main\n"
    "    hlt\n"
    ".size _start, .-_start\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, %function\n"
    "_start:\n"
    "    mov x29, #0\n"
    "    mov x30, #0\n"
    "    mov x0, sp\n"
    "    bl gb_init_main\n"
    "    brk #0\n"
    ".size _start, .-_start\n");
#else
#error "glovebox-init needs an entry point and system calls for this architecture (sys.h)"
#endif

// MARK: - System calls

static inline long gb_syscall(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#endif
}

// Signals: the numbers are the same on both architectures; the kernel's sigset is 64 bits.
enum { GB_SIGKILL = 9, GB_SIGCHLD = 17, GB_SIGSTOP = 19, GB_NSIG = 64, GB_SIG_SETMASK = 2 };
#define GB_SIG_DFL ((void *)0)

// The kernel's struct sigaction; zero (SIG_DFL, no flags, empty mask) is all init ever sets.
struct gb_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static inline long sys_write(int fd, const void *buf, size_t n) { return gb_syscall(__NR_write, fd, (long)buf, (long)n, 0, 0, 0); }
static inline long sys_pread(int fd, void *buf, size_t n, long offset) { return gb_syscall(__NR_pread64, fd, (long)buf, (long)n, offset, 0, 0); }
static inline long sys_close(int fd) { return gb_syscall(__NR_close, fd, 0, 0, 0, 0, 0); }
static inline long sys_close_range(unsigned first, unsigned last, unsigned flags) { return gb_syscall(__NR_close_range, first, last, flags, 0, 0, 0); }
static inline long sys_fcntl(int fd, int cmd, long arg) { return gb_syscall(__NR_fcntl, fd, cmd, arg, 0, 0, 0); }
static inline long sys_prctl(int option, long a, long b) { return gb_syscall(__NR_prctl, option, a, b, 0, 0, 0); }
static inline long sys_setsid(void) { return gb_syscall(__NR_setsid, 0, 0, 0, 0, 0, 0); }
static inline long sys_setgroups(long n, const uint32_t *groups) { return gb_syscall(__NR_setgroups, n, (long)groups, 0, 0, 0, 0); }
static inline long sys_setresgid(uint32_t gid) { return gb_syscall(__NR_setresgid, gid, gid, gid, 0, 0, 0); }
static inline long sys_setresuid(uint32_t uid) { return gb_syscall(__NR_setresuid, uid, uid, uid, 0, 0, 0); }
// capset(2) with version 3 and the two 32-bit halves of each set.
static inline long sys_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct { uint32_t version; int pid; } header = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
    struct { uint32_t effective, permitted, inheritable; } data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
    };
    return gb_syscall(__NR_capset, (long)&header, (long)data, 0, 0, 0, 0);
}
// A private futex (init and the program's process share memory until its execve).
static inline long sys_futex_wait(volatile int *addr, int expected) { return gb_syscall(__NR_futex, (long)addr, 128 /* FUTEX_WAIT_PRIVATE */, expected, 0, 0, 0); }
static inline long sys_futex_wake(volatile int *addr) { return gb_syscall(__NR_futex, (long)addr, 129 /* FUTEX_WAKE_PRIVATE */, 1, 0, 0, 0); }
static inline long sys_getpid(void) { return gb_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0); }
static inline long sys_kill(long pid, int sig) { return gb_syscall(__NR_kill, pid, sig, 0, 0, 0, 0); }
static inline long sys_wait4(long pid, int *status, int options) { return gb_syscall(__NR_wait4, pid, (long)status, options, 0, 0, 0); }
static inline long sys_execve(const char *path, char *const *argv, char *const *envp) {
    return gb_syscall(__NR_execve, (long)path, (long)argv, (long)envp, 0, 0, 0);
}
static inline long sys_rt_sigaction(int sig, const struct gb_kernel_sigaction *act, struct gb_kernel_sigaction *old) {
    return gb_syscall(__NR_rt_sigaction, sig, (long)act, (long)old, 8, 0, 0);
}
static inline long sys_sigprocmask(int how, uint64_t set) {
    return gb_syscall(__NR_rt_sigprocmask, how, (long)&set, 0, 8, 0, 0);
}
// Waits for any signal (all are blocked); fills `info` (a siginfo_t, 128 bytes).
static inline long sys_sigwaitinfo_all(void *info) {
    uint64_t all = ~0ULL;
    return gb_syscall(__NR_rt_sigtimedwait, (long)&all, (long)info, 0, 8, 0, 0);
}
static inline _Noreturn void sys_exit_group(int code) {
    for (;;) gb_syscall(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

// MARK: - Memory and strings

// The compiler may call memcpy and memset for copies and initialisations even without a C library; the
// volatile stores keep it from turning these loops back into calls to themselves.
void *memcpy(void *dest, const void *src, size_t n) {
    volatile unsigned char *d = dest;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dest;
}

void *memset(void *dest, int c, size_t n) {
    volatile unsigned char *d = dest;
    while (n--) *d++ = (unsigned char)c;
    return dest;
}

static inline void gb_memcpy(void *dest, const void *src, size_t n) { memcpy(dest, src, n); }

static inline size_t gb_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static inline const char *gb_strchr(const char *s, char c) {
    for (; *s; s++) if (*s == c) return s;
    return 0;
}

static inline int gb_strncmp(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) return (unsigned char)a[i] - (unsigned char)b[i];
        if (!a[i]) return 0;
    }
    return 0;
}

// MARK: - What swiftc links in

// SwiftPM links every executable through swiftc, which adds its image registration object (swiftrt.o).
// That object's constructor is never run here (there is no C library to run constructors), but the
// linker still needs the two symbols it names; these stand in for the Swift runtime's, so that nothing of
// the runtime (or of glibc, which it needs) is linked into init.
void swift_addNewDSOImage(const void *header) { (void)header; }
int _swift_backtrace_isThunkFunction(const char *name) { (void)name; return 0; }

#endif
