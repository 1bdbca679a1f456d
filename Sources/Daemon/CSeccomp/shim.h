#include <seccomp.h>
// SCMP_ACT_ERRNO and SCMP_ACT_LOG-style actions are function-like macros; rule adding is variadic.
static inline uint32_t cseccomp_act_errno(uint16_t e) { return SCMP_ACT_ERRNO(e); }
static inline uint32_t cseccomp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline int cseccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall,
                                    unsigned int count, const struct scmp_arg_cmp *args) {
    return seccomp_rule_add_array(ctx, action, syscall, count, args);
}
// The architectures whose new system calls share one numbering (the unified table, from Linux 5.1 on):
// SCMP_ARCH_* are expressions of macros from linux/audit.h.
static inline int cseccomp_native_has_unified_numbers(void) {
    uint32_t native = seccomp_arch_native();
    return native == SCMP_ARCH_X86_64 || native == SCMP_ARCH_AARCH64;
}
