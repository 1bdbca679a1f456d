// gb_clone3_on_stack: clone3 that runs fn(arg) in the child on a stack of its own, for the daemon's
// launcher (Sources/Daemon/CSandbox/launch.c: the setup child and the root builder, CLONE_VM |
// CLONE_VFORK) and glovebox-init (the program's process, CLONE_VM).
// Top-level assembly: include it in one C file of a program, never in a header Swift imports.
#ifndef GB_CLONE3_H
#define GB_CLONE3_H

#include <linux/sched.h>
#include <stddef.h>

// clone3 with a stack returns in the child on that stack, with no frame to return to: like glibc's and
// musl's clone(), a few instructions call fn(arg) there and exit with its result.
//   long gb_clone3_on_stack(struct clone_args *args, size_t size, int (*fn)(void *), void *arg)
// Returns the child's pid in the parent, or -errno.
long gb_clone3_on_stack(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl gb_clone3_on_stack\n"
    ".hidden gb_clone3_on_stack\n"
    ".type gb_clone3_on_stack, @function\n"
    "gb_clone3_on_stack:\n"
    "    mov %rdx, %r8\n"            // fn: r8 and r9 survive the syscall (rcx and r11 do not)
    "    mov %rcx, %r9\n"            // arg
    "    mov $435, %eax\n"           // SYS_clone3
    "    syscall\n"
    "    test %rax, %rax\n"
    "    jnz 1f\n"
    "    xor %ebp, %ebp\n"           // child: outermost frame, on the new (16-byte aligned) stack
    "    mov %r9, %rdi\n"
    "    call *%r8\n"
    "    mov %eax, %edi\n"
    "    mov $60, %eax\n"            // SYS_exit
    "    syscall\n"
    "    hlt\n"
    "1:  ret\n"
    ".size gb_clone3_on_stack, .-gb_clone3_on_stack\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl gb_clone3_on_stack\n"
    ".hidden gb_clone3_on_stack\n"
    ".type gb_clone3_on_stack, %function\n"
    "gb_clone3_on_stack:\n"
    "    mov x9, x2\n"               // fn: the svc preserves every register but x0
    "    mov x10, x3\n"              // arg
    "    mov x8, #435\n"             // SYS_clone3
    "    svc #0\n"
    "    cbnz x0, 1f\n"
    "    mov x29, xzr\n"             // child: outermost frame, on the new stack
    "    mov x30, xzr\n"
    "    mov x0, x10\n"
    "    blr x9\n"
    "    mov x8, #93\n"              // SYS_exit
    "    svc #0\n"
    "    brk #0\n"
    "1:  ret\n"
    ".size gb_clone3_on_stack, .-gb_clone3_on_stack\n");
#else
#error "the launcher needs a clone3 trampoline for this architecture (see gb_clone3_on_stack)"
#endif

#endif
