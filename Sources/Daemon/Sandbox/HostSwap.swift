import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Swap, which a memory limit alone does not bound: a run held at its memory limit pushes the rest of
/// its pages out to the host's swap, and a host full of runs thrashes. Each run's cgroup limits swap to
/// nothing (v1: memory.memsw.limit_in_bytes equal to the memory limit, and memory.swappiness 0; v2:
/// memory.swap.max 0), which the kernel offers only where it accounts swap. A host with swap on and no
/// swap accounting cannot limit it: the daemon refuses to start there, and refuses each run while it is
/// so (swap may be turned on after the start).
public enum HostSwap {
    static let path = "/proc/swaps"
    private static let descriptor = try? FileDescriptor.open(path, O_RDONLY)

    /// Whether a swap area is active: /proc/swaps lists one per line after its header. nil when it cannot
    /// be read.
    static func isOn() -> Bool? {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard let descriptor else { return nil }
        let n = buffer.withUnsafeMutableBytes { pread(descriptor.raw, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        guard let newline = buffer[0..<n].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return newline + 1 < n
    }

    /// Why no run may start as things are, or nil. `accounted`: whether the cgroups offer a swap limit.
    public static func problem(accounted: Bool) -> String? {
        if accounted { return nil }
        switch isOn() {
        case false?: return nil
        case true?:
            return "swap is on (\(path)) and the kernel does not account it in cgroups, so a run's memory limit would not bound "
                + "what it pushes to swap: turn swap off (swapoff -a), or enable swap accounting (boot with swapaccount=1 on cgroup v1; "
                + "memory.swap.max on cgroup v2 needs CONFIG_MEMCG_SWAP)"
        case nil:
            return "cannot read \(path): gloveboxd needs it to know whether swap, which it cannot limit here, is on"
        }
    }
}
