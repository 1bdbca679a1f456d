#include <seccomp.h>
// SCMP_ACT_ERRNO and SCMP_ACT_LOG-style actions are function-like macros; rule adding is variadic.
static inline uint32_t cseccomp_act_errno(uint16_t e) { return SCMP_ACT_ERRNO(e); }
static inline uint32_t cseccomp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline int cseccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall,
                                    unsigned int count, const struct scmp_arg_cmp *args) {
    return seccomp_rule_add_array(ctx, action, syscall, count, args);
}
