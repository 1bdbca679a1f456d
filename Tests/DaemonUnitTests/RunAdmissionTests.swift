import Policy
import PolicyModel
import Testing
@testable import Supervisor

/// Admission's rules, without a daemon: what a request may ask of its template.
struct RunAdmissionTests {
    static func policy(pass: [String] = ["SEED"], caps: TemplateCaps = TemplateCaps()) throws -> Policy {
        var policy = try Policy.parse("""
            [limits]
            timeout = "10m"
            memory = "1GiB"
            pids = 64
            cpus = 1
            storage = "512MiB"

            [environment]
            set = { PATH = "/usr/bin" }
            pass = [\(pass.map { "\"\($0)\"" }.joined(separator: ", "))]
            """, template: "python", source: "policies/python.toml")
        policy.caps = caps
        return policy
    }

    static func refusal(_ body: () throws -> Void) -> String? {
        do { try body() } catch let refusal as RunAdmission.Refusal { return refusal.message } catch { return "not a refusal: \(error)" }
        return nil
    }

    @Test(arguments: [
        ([], "empty command: give a program to run"),
        ([""], "empty command: give a program to run"),
        (["python3", "a\0b"], "an argument contains a NUL byte"),
        (Array(repeating: "x", count: 65_537), "too many arguments (65537; at most 65536)"),
        (["python3", String(repeating: "y", count: 600 * 1024)], "arguments longer than 512 KiB in total"),
    ])
    func aBadArgvIsRefusedWithItsReason(argv: [String], message: String) {
        #expect(Self.refusal { try RunAdmission.checkArgv(argv) } == message)
    }

    @Test func aPlainArgvIsAdmitted() {
        #expect(Self.refusal { try RunAdmission.checkArgv(["python3", "train.py", "--lr", "0.1"]) } == nil)
    }

    @Test func onlyTheVariablesTheTemplatePassesAreAdded() throws {
        let policy = try Self.policy()
        #expect(try RunAdmission.environment(policy, requested: ["SEED": "7"]) == ["PATH": "/usr/bin", "SEED": "7"])
        #expect(Self.refusal { _ = try RunAdmission.environment(policy, requested: ["LD_PRELOAD": "/tmp/x.so"]) }
            == "template 'python' does not pass environment variable LD_PRELOAD (it passes: SEED)")
        #expect(Self.refusal { _ = try RunAdmission.environment(try Self.policy(pass: []), requested: ["SEED": "7"]) }
            == "template 'python' does not pass environment variable SEED (it passes: none)")
        #expect(Self.refusal { _ = try RunAdmission.environment(policy, requested: ["SEED": "7\0"]) } == "environment variable SEED contains a NUL byte")
    }

    @Test func limitsAreTightenedNeverLoosened() throws {
        let policy = try Self.policy()
        let tighter = try RunAdmission.limits(policy, requested: LimitRequest(timeoutSeconds: 60, memoryBytes: 256 << 20))
        #expect(tighter.timeoutSeconds == 60)
        #expect(tighter.memoryBytes == 256 << 20)
        #expect(tighter.pids == 64, "what was not asked for stays the template's")
        let looser = Self.refusal { _ = try RunAdmission.limits(policy, requested: LimitRequest(timeoutSeconds: 3600)) }
        #expect(looser?.hasSuffix("(template 'python')") == true, "\(looser ?? "admitted")")
        #expect(looser?.contains("timeout") == true, "\(looser ?? "admitted")")
    }

    @Test(arguments: [
        (["../up"], true, "output '../up' must be a relative path inside the workdir, without '..' or '.'"),
        (["/etc/passwd"], true, "output '/etc/passwd' must be a relative path inside the workdir, without '..' or '.'"),
        (["results"], false, "--output needs --workdir: outputs are written back into the workdir"),
        (Array(repeating: "r", count: 257), true, "too many --output paths (257; at most 256: name directories instead)"),
    ])
    func badOutputsAreRefused(outputs: [String], hasWorkdir: Bool, message: String) {
        #expect(Self.refusal { try RunAdmission.checkOutputs(outputs, hasWorkdir: hasWorkdir) } == message)
    }

    @Test func outputsInsideTheWorkdirAreAdmitted() {
        #expect(Self.refusal { try RunAdmission.checkOutputs(["results", "plots/final.png"], hasWorkdir: true) } == nil)
        #expect(Self.refusal { try RunAdmission.checkOutputs([], hasWorkdir: false) } == nil)
    }

    @Test func moreGPUsThanTheServerHasAreRefused() throws {
        var limits = try Self.policy().limits
        limits.gpus = 2
        #expect(Self.refusal { try RunAdmission.checkGPUs(limits, available: 1, template: "python") }
            == "2 GPU(s) asked for and this server has 1 (template 'python')")
        #expect(Self.refusal { try RunAdmission.checkGPUs(limits, available: 2, template: "python") } == nil)
    }

    @Test func aRunCountsAgainstTheDaemonsCapsAndItsTemplates() throws {
        let config = DaemonConfig()
        let plain = RunAdmission.constraints(config, policy: try Self.policy(), uid: 1000, userName: "alice")
        #expect(plain.map(\.key) == ["global", "user:1000"])
        #expect(plain[1].name == "runs of alice")
        let capped = try Self.policy(caps: TemplateCaps(concurrentRuns: 2, userRunsPerHour: 5))
        let constraints = RunAdmission.constraints(config, policy: capped, uid: 1000, userName: nil)
        #expect(constraints.map(\.key) == ["global", "user:1000", "template:python", "template-user:python:1000"])
        #expect(constraints[2].concurrent == 2)
        #expect(constraints[3].perHour == 5)
        #expect(constraints[3].name == "runs of template 'python' by uid 1000")
    }

    @Test func aRefusedArgvIsKeptBounded() {
        let many = (0..<100).map { "arg\($0)" }
        let kept = RunAdmission.bounded(many)
        #expect(kept.count == 65)
        #expect(kept.last == "[… 100 arguments in all, cut]")
        let long = RunAdmission.bounded(["python3", String(repeating: "z", count: 10_000)])
        #expect(long.dropLast().reduce(0) { $0 + $1.utf8.count } == 4096)
        #expect(long.last == "[… 2 arguments in all, cut]")
        #expect(RunAdmission.bounded(["python3", "x.py"]) == ["python3", "x.py"])
    }
}
