import CSeccomp

/// One comparison of a system call argument's low 32 bits: (argument & mask) == value, the upper 32 bits
/// ignored. libseccomp compares 64-bit arguments as two 32-bit words; a mask whose upper word is zero
/// makes the upper comparison always true, so this is exactly the comparison the kernel's own `int`
/// truncation calls for.
struct LowWord: Equatable, Sendable {
    var mask: UInt32
    var value: UInt32

    static func exactly(_ value: UInt32) -> LowWord { LowWord(mask: .max, value: value) }

    func matches(_ argument: UInt64) -> Bool { UInt32(truncatingIfNeeded: argument) & mask == value }

    func comparison(argument: UInt32) -> scmp_arg_cmp {
        scmp_arg_cmp(arg: argument, op: SCMP_CMP_MASKED_EQ, datum_a: UInt64(mask), datum_b: UInt64(value))
    }

    /// Every value below 2^`bits` outside `allowed`, as few disjoint comparisons as a binary trie of the
    /// allowed values gives (at most `bits` per allowed value; libseccomp takes one comparison per argument
    /// and rule, so "not one of these" is written as the union of these). Walking from bit `bits` - 1
    /// down, each branch of the trie that holds no allowed value becomes one comparison of the bits fixed
    /// so far, the bits above `bits` being 0. With `bits` below 32, larger values match none: for
    /// arguments the kernel itself refuses from there on (a socket family is a 16-bit sa_family_t).
    static func outside(_ allowed: Set<UInt32>, bits: Int = 32) -> [LowWord] {
        precondition((1...32).contains(bits) && allowed.allSatisfy { bits == 32 || $0 >> UInt32(bits) == 0 })
        var result: [LowWord] = []
        func descend(bit: Int, prefix: UInt32, members: [UInt32]) {
            guard bit >= 0 else { return }  // a whole allowed value
            let mask = UInt32.max << UInt32(bit)  // the bits from 31 down to `bit`
            for branch: UInt32 in [0, 1] {
                let fixed = prefix | (branch << UInt32(bit))
                let below = members.filter { ($0 >> UInt32(bit)) & 1 == branch }
                if below.isEmpty {
                    result.append(LowWord(mask: mask, value: fixed))
                } else {
                    descend(bit: bit - 1, prefix: fixed, members: below)
                }
            }
        }
        descend(bit: bits - 1, prefix: 0, members: Array(allowed))
        return result
    }
}
