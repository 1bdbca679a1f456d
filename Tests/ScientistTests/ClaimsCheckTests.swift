import RecordModel
import XCTest
@testable import Scientist

final class ClaimsCheckTests: XCTestCase {
    private func manifest(gpus: [String] = []) -> ClaimsManifest {
        let machine = MachineFacts(kernel: "6.1", cpuModel: "AMD EPYC 7B13 64-Core Processor", hostCPUs: 2, cpus: 1, memoryLimitBytes: 1 << 30,
                                   gpus: gpus.map { LeasedGPU(device: "/dev/nvidia0", name: $0, uuid: "GPU-1", driverVersion: "550.54.15", problem: "") })
        let run = SandboxRun(runID: 3, status: "ok", wallSeconds: 5400, gpus: gpus.count, policyDigest: "d", limitsHit: [], limits: [:],
                             message: "", stderrTail: "", machine: machine)
        let row = ExperimentRunRow(experimentID: 1, stage: .experiment, number: 1, attempt: 1, run: run, commit: "c",
                                   metrics: #"{"sine":{"final_val_loss":0.000126,"val_acc":0.98765}}"#, outcome: .ok, message: "",
                                   startedAt: 0, finishedAt: 1)
        let software = SoftwareProbeRow(experimentID: 1, runID: 2, policyDigest: "d", createdAt: 0, facts: """
            {"python": "3.11.2", "packages": {"numpy": {"kind": "package", "version": "1.24.2"}, "torch": {"kind": "package", "version": "2.3.1+cu121"}},
             "torch": {"built_with": "12.1", "cudnn": 8902}}
            """, problem: "")
        return ClaimsManifest(runs: [row], software: software)
    }

    func testClaimsTheRunsBackPass() {
        let tex = #"""
            We trained on one NVIDIA H100 GPU, an AMD EPYC host, with Python 3.11, PyTorch 2.3.1 and CUDA 12.1 (NumPy 1.24).
            The validation loss fell to 0.000126, an accuracy of 98.77\%, in 1.5 hours (90.0 minutes).
            Prior work reports \gbExternal{0.95}~\citep{smith2020}; we used a learning rate of \gbExternal{0.01}.
            % A comment may say anything: A100, 0.12345.
            """#
        XCTAssertEqual(ClaimsCheck.problems(tex: tex, manifest: manifest(gpus: ["NVIDIA H100 80GB HBM3"])), [])
    }

    func testInventedHardwareSoftwareAndNumbersAreCaught() {
        let tex = #"""
            Training took 3 hours on eight NVIDIA A100 GPUs with an Intel Xeon, using Python 3.10 and CUDA 11.8.
            It reached a validation loss of 0.0042 and 99.1\% accuracy.
            """#
        XCTAssertEqual(ClaimsCheck.problems(tex: tex, manifest: manifest()), [
            "the text names the GPU \"A100\", but the runs used no GPU; use \\gbGPU",
            "the text names the CPU \"Xeon\", but the runs' CPU was AMD EPYC 7B13 64-Core Processor; use \\gbCPU",
            "the text says Python 3.10, but the runs had Python 3.11.2; use the macro of environment.tex",
            "the text says CUDA 11.8, but the runs had CUDA 12.1; use the macro of environment.tex",
            "the text says eight GPU(s), but the runs had 0; use \\gbGPUCount",
            "the text says 3 hours, but no run took that long (their wall times: 5400 s); use \\gbRunWall",
            "the number 0.0042 matches no run's metric or time; take it from results.tex or environment.tex, or mark a number from elsewhere as \\gbExternal{0.0042}",
            "the number 99.1% matches no run's metric or time; take it from results.tex or environment.tex, or mark a number from elsewhere as \\gbExternal{99.1}",
        ])
    }
}
