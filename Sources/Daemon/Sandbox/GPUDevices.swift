import Foundation
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
        /// "NVIDIA H100 80GB HBM3", the driver's "Model:", when it says.
        public var model: String?
    }

    public var gpus: [GPU]
    /// /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools: those that exist.
    public var companions: [DeviceNode]
    /// The kernel module's version ("535.104.05"), from /proc/driver/nvidia/version, when there is one.
    public var driverVersion: String?

    public static let driverRoot = "/proc/driver/nvidia"

    /// GPU `index` as a run's record names it: its node, and what the driver says of it, or what it does not.
    public func describe(_ index: Int) -> (device: String, name: String?, uuid: String?, driverVersion: String?, problem: String) {
        let gpu = gpus[index]
        var missing: [String] = []
        if gpu.model == nil { missing.append("model") }
        if gpu.uuid == nil { missing.append("UUID") }
        if driverVersion == nil { missing.append("driver version") }
        let problem = missing.isEmpty ? "" :
            "not identified: \(Self.driverRoot) gives no \(missing.joined(separator: ", ")) for \(gpu.node.hostPath) (minor \(gpu.node.number.minor))"
        return (gpu.node.hostPath, gpu.model, gpu.uuid, driverVersion, problem)
    }

    public static let companionPaths = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"]

    /// The configured device nodes, or every /dev/nvidia<N>. A configured node that is missing or not a
    /// character device is an error: the operator named it.
    public static func discover(configured: [String]?, driverRoot: String = GPUInventory.driverRoot) throws -> GPUInventory {
        let paths = configured ?? (FileIO.entries(of: "/dev").filter(isNumberedNvidia).sorted { number($0) < number($1) }.map { "/dev/" + $0 })
        let described = driverDescriptions(root: driverRoot)
        let gpus = try paths.map { path -> GPU in
            let node = try DeviceNode.at(path)
            let description = described[node.number.minor]
            return GPU(node: node, uuid: description?.uuid, model: description?.model)
        }
        let companions = companionPaths.compactMap { try? DeviceNode.at($0) }
        return GPUInventory(gpus: gpus, companions: companions, driverVersion: driverVersion(root: driverRoot))
    }

    static func isNumberedNvidia(_ name: String) -> Bool {
        name.hasPrefix("nvidia") && name.count > 6 && name.dropFirst(6).allSatisfy(\.isNumber)
    }

    static func number(_ name: String) -> Int { Int(name.dropFirst(6)) ?? 0 }

    /// Device minor → the GPU's UUID and model, from <root>/gpus/*/information ("Device Minor:", "GPU UUID:",
    /// "Model:").
    static func driverDescriptions(root: String) -> [UInt32: (uuid: String?, model: String?)] {
        var out: [UInt32: (uuid: String?, model: String?)] = [:]
        let base = root + "/gpus"
        for bus in FileIO.entries(of: base) {
            guard let text = FileIO.readIfPresent(base + "/" + bus + "/information") else { continue }
            var minor: UInt32?, uuid: String?, model: String?
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: " \t") }
                guard parts.count == 2, !parts[1].isEmpty else { continue }
                if parts[0] == "Device Minor" { minor = UInt32(parts[1]) }
                if parts[0] == "GPU UUID" { uuid = parts[1] }
                if parts[0] == "Model" { model = parts[1] }
            }
            if let minor { out[minor] = (uuid, model) }
        }
        return out
    }

    /// "535.104.05" from <root>/version's first line ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05
    /// Sat Aug 19 01:15:15 UTC 2023"): the first word made of digits and dots after "Kernel Module".
    static func driverVersion(root: String) -> String? {
        guard let text = FileIO.readIfPresent(root + "/version"), let first = text.split(separator: "\n").first,
              let marker = first.range(of: "Kernel Module") else { return nil }
        return first[marker.upperBound...].split(separator: " ").first { word in
            word.contains(".") && word.allSatisfy { $0.isNumber || $0 == "." }
        }.map(String.init)
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
