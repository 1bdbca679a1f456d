import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A device node a run may be given: bound at /dev/<name> inside, allowed by the device cgroup.
public struct DeviceNode: Sendable, Equatable {
    public var hostPath: String
    public var name: String
    public var number: DeviceNumber
    public init(hostPath: String, name: String, number: DeviceNumber) {
        self.hostPath = hostPath; self.name = name; self.number = number
    }

    /// The node at `path`, which must be a character device.
    public static func at(_ path: String) throws -> DeviceNode {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SystemError("stat", path, errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFCHR else { throw SandboxError.invalid("\(path) is not a character device") }
        let name = String(path.split(separator: "/").last ?? "")
        return DeviceNode(hostPath: path, name: name, number: DeviceNumber(major: gb_major(UInt64(st.st_rdev)), minor: gb_minor(UInt64(st.st_rdev))))
    }
}

/// The GPUs gloveboxd may lease, and the NVIDIA control nodes that go with any lease.
public struct GPUInventory: Sendable {
    public struct GPU: Sendable, Equatable {
        public var node: DeviceNode
        /// "GPU-…" from the driver, when it says; CUDA_VISIBLE_DEVICES names leased GPUs by it.
        public var uuid: String?
    }

    public var gpus: [GPU]
    /// /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools: those that exist.
    public var companions: [DeviceNode]

    public static let companionPaths = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"]

    /// The configured device nodes, or every /dev/nvidia<N>. A configured node that is missing or not a
    /// character device is an error: the operator named it.
    public static func discover(configured: [String]?) throws -> GPUInventory {
        let paths = configured ?? (FileIO.entries(of: "/dev").filter(isNumberedNvidia).sorted { number($0) < number($1) }.map { "/dev/" + $0 })
        let uuids = driverUUIDs()
        let gpus = try paths.map { path -> GPU in
            let node = try DeviceNode.at(path)
            return GPU(node: node, uuid: uuids[node.number.minor])
        }
        let companions = companionPaths.compactMap { try? DeviceNode.at($0) }
        return GPUInventory(gpus: gpus, companions: companions)
    }

    static func isNumberedNvidia(_ name: String) -> Bool {
        name.hasPrefix("nvidia") && name.count > 6 && name.dropFirst(6).allSatisfy(\.isNumber)
    }

    static func number(_ name: String) -> Int { Int(name.dropFirst(6)) ?? 0 }

    /// Device minor → GPU UUID, from /proc/driver/nvidia/gpus/*/information ("Device Minor:", "GPU UUID:").
    static func driverUUIDs() -> [UInt32: String] {
        var out: [UInt32: String] = [:]
        let base = "/proc/driver/nvidia/gpus"
        for bus in FileIO.entries(of: base) {
            guard let text = FileIO.readIfPresent(base + "/" + bus + "/information") else { continue }
            var minor: UInt32?, uuid: String?
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: " \t") }
                guard parts.count == 2 else { continue }
                if parts[0] == "Device Minor" { minor = UInt32(parts[1]) }
                if parts[0] == "GPU UUID" { uuid = parts[1] }
            }
            if let minor, let uuid { out[minor] = uuid }
        }
        return out
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
