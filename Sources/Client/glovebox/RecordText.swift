import GloveboxSystem
import PolicyModel
import RecordModel
#if canImport(Glibc)
import Glibc
#endif

/// Records as people read them.
enum RecordText {
    static func describe(_ r: RunRecord) -> String {
        var lines: [(String, String)] = [
            ("run", "\(r.id)"), ("status", r.status.rawValue + (r.message.isEmpty ? "" : ": \(r.message)")),
            ("template", r.template), ("command", r.argv.map(quote).joined(separator: " ")),
            ("user", user(r.clientUID)), ("started", time(r.startedAt)),
        ]
        if let ended = r.endedAt { lines.append(("ended", time(ended))) }
        if let wall = r.wallSeconds { lines.append(("wall time", seconds(wall))) }
        if let u = r.userCPUSeconds, let s = r.systemCPUSeconds { lines.append(("cpu time", "\(seconds(u)) user, \(seconds(s)) system")) }
        if let peak = r.peakMemoryBytes { lines.append(("peak memory", ByteSize.format(peak))) }
        if let code = r.exitCode { lines.append(("exit code", "\(code)")) }
        if let signal = r.signal { lines.append(("signal", "\(signal) (\(String(cString: strsignal(signal))))")) }
        if !r.limitsHit.isEmpty { lines.append(("limits hit", r.limitsHit.map(\.rawValue).joined(separator: ", "))) }
        if !r.limits.isEmpty { lines.append(("limits", limits(r.limits))) }
        if let uid = r.sandboxUID { lines.append(("sandbox uid", "\(uid)")) }
        lines.append(("policy digest", r.policyDigest.isEmpty ? "-" : String(r.policyDigest.prefix(16))))
        lines.append(("kernel", r.kernel))
        if let machine = r.machine {
            let cpus = machine.cpus == machine.cpus.rounded() ? String(Int(machine.cpus)) : String(machine.cpus)
            lines.append(("cpu", "\(machine.cpuModel.isEmpty ? "unnamed" : machine.cpuModel); \(cpus) of \(machine.hostCPUs) CPUs"))
            lines.append(("memory limit", ByteSize.format(machine.memoryLimitBytes)))
            for (index, gpu) in machine.gpus.enumerated() {
                let text = gpu.identified
                    ? "\(gpu.name ?? "") \(gpu.uuid ?? ""), driver \(gpu.driverVersion ?? "") (\(gpu.device))"
                    : "\(gpu.device): \(gpu.problem)"
                lines.append(("gpu \(index)", text))
            }
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padded(to: width) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func table(_ records: [RunRecord]) -> String {
        let header = ["RUN", "STATUS", "TEMPLATE", "USER", "STARTED", "WALL", "COMMAND"]
        let rows = records.map { r in
            ["\(r.id)", r.status.rawValue, r.template, user(r.clientUID), time(r.startedAt),
             r.wallSeconds.map(seconds) ?? "-", String(r.argv.map(quote).joined(separator: " ").prefix(60))]
        }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padded(to: widths[i]) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func limits(_ l: [String: Double]) -> String {
        var parts: [String] = []
        if let t = l["timeout_seconds"] { parts.append("timeout \(DurationText.format(t))") }
        if let m = l["memory_bytes"] { parts.append("memory \(ByteSize.format(UInt64(m)))") }
        if let p = l["pids"] { parts.append("pids \(Int(p))") }
        if let c = l["cpus"] { parts.append("cpus \(c == c.rounded() ? String(Int(c)) : String(c))") }
        if let s = l["storage_bytes"] { parts.append("storage \(ByteSize.format(UInt64(s)))") }
        if let g = l["gpus"], g > 0 { parts.append("gpus \(Int(g))") }
        return parts.joined(separator: ", ")
    }

    static func user(_ uid: UInt32) -> String {
        guard let pw = getpwuid(uid) else { return "\(uid)" }
        return String(cString: pw.pointee.pw_name)
    }

    static func time(_ t: Double) -> String {
        var seconds = time_t(t)
        var tm = tm()
        localtime_r(&seconds, &tm)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &tm)
        return String(nulTerminated: buffer)
    }

    static func seconds(_ s: Double) -> String { s < 10 ? String(format3(s)) + " s" : "\(Int(s.rounded())) s" }

    private static func format3(_ s: Double) -> String {
        let ms = Int((s * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    /// An argument as a shell would need it: bare when safe, in single quotes, or, when it holds control
    /// characters (a newline in a `python3 -c` program), in bash's $'…' with escapes, so a table stays one
    /// line per run.
    static func quote(_ arg: String) -> String {
        if !arg.isEmpty && arg.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }) { return arg }
        if arg.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            var out = "$'"
            for scalar in arg.unicodeScalars {
                switch scalar {
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\\": out += "\\\\"
                case "'": out += "\\'"
                case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                    out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "'"
        }
        return "'" + arg.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}

extension String {
    /// Left-aligned in a column `width` characters wide (never cut).
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
