import Foundation
import RecordModel
import XCTest
@testable import Scientist

final class ProvenanceTeXTests: XCTestCase {
    private func row(_ number: Int, runID: Int64, outcome: ExperimentRunRow.Outcome = .ok, metrics: String?, machine: MachineFacts?) -> ExperimentRunRow {
        let run = SandboxRun(runID: runID, status: outcome == .ok ? "ok" : "exited-nonzero", exitCode: 0, wallSeconds: Double(number) + 10.25,
                             cpuSeconds: 9.5, peakMemoryBytes: 20 << 20, gpus: machine?.gpus.count ?? 0, policyDigest: "d", limitsHit: [],
                             limits: [:], message: "", stderrTail: "", machine: machine)
        return ExperimentRunRow(experimentID: 1, stage: number == 0 ? .baseline : .experiment, number: number, attempt: 1, run: run,
                                commit: "0123456789abcdef\(number)", metrics: metrics, outcome: outcome, message: "", startedAt: 0, finishedAt: 1)
    }

    private let machine = MachineFacts(kernel: "6.1.0-18-amd64", cpuModel: "AMD EPYC 9654 96-Core Processor", hostCPUs: 192, cpus: 8,
                                       memoryLimitBytes: 64 << 30,
                                       gpus: [LeasedGPU(device: "/dev/nvidia0", name: "NVIDIA H100 80GB HBM3", uuid: "GPU-1", driverVersion: "550.54.15", problem: "")])

    func testEnvironmentMacrosComeFromTheMeasuredFacts() {
        let software = SoftwareProbeRow(experimentID: 1, runID: 7, policyDigest: "d", createdAt: 0, facts: """
            {"packages": {"json": {"kind": "stdlib"}, "numpy": {"kind": "package", "version": "1.24.2"}, "scikit_learn2": {"kind": "package", "version": "1.4_0"}, "torch": {"kind": "package", "version": "2.3.1+cu121"}}, "python": "3.11.2", "torch": {"available": true, "built_with": "12.1", "cudnn": 8902}}
            """, problem: "")
        let rows = [row(0, runID: 3, metrics: "{}", machine: machine), row(1, runID: 5, outcome: .failed, metrics: nil, machine: machine),
                    row(2, runID: 9, metrics: "{}", machine: machine)]
        let tex = ProvenanceTeX.environment(runs: rows, software: software)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbGPU}{NVIDIA H100 80GB HBM3} % gloveboxd run 9"), tex)
        XCTAssertTrue(tex.contains("\\providecommand{\\gbExternal}[1]{#1}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbCPU}{AMD EPYC 9654 96-Core Processor}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbCPUCount}{8}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbMemoryLimit}{64 GiB}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbKernel}{Linux 6.1.0-18-amd64}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbPython}{3.11.2} % software probe, gloveboxd run 7"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbVersionNumpy}{1.24.2}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbVersionScikitLearnTwo}{1.4\\_0}"), "names are letters, values escaped: \(tex)")
        XCTAssertTrue(tex.contains("\\newcommand{\\gbPyTorchVersion}{2.3.1+cu121}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbCUDAVersion}{12.1}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbCuDNNVersion}{8902}"), tex)
        XCTAssertFalse(tex.contains("gbVersionJson"), "stdlib modules have no version macro")
        // Run 1 failed: its slot is a visible ??, not a number from another run.
        XCTAssertTrue(tex.contains("\\newcommand{\\gbRunWall}[1]{\\ifcase#1 10.2~s\\or \\textbf{??}\\or 12.2~s \\else\\textbf{??}\\fi}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbRunID}[1]{\\ifcase#1 3\\or \\textbf{??}\\or 9 \\else\\textbf{??}\\fi}"), tex)
    }

    func testAnUnidentifiedGPUIsSaidToBeOne() {
        var unknown = machine
        unknown.gpus = [LeasedGPU(device: "/dev/nvidia0", name: nil, uuid: nil, driverVersion: nil, problem: "not identified: no model")]
        let tex = ProvenanceTeX.environment(runs: [row(0, runID: 1, metrics: "{}", machine: unknown)], software: nil)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbGPU}{an unidentified GPU (not identified: no model)}"), tex)
        XCTAssertTrue(tex.contains("\\newcommand{\\gbGPUDriver}{unknown}"), tex)
        var none = machine
        none.gpus = []
        XCTAssertTrue(ProvenanceTeX.environment(runs: [row(0, runID: 1, metrics: "{}", machine: none)], software: nil).contains("\\newcommand{\\gbGPU}{no GPU}"))
    }

    func testResultsTablesCarryEachNumbersRunInAComment() {
        let rows = [row(0, runID: 3, metrics: #"{"x_plus_y":{"final_val_acc":0.5,"step":1617}}"#, machine: nil),
                    row(1, runID: 5, outcome: .failed, metrics: nil, machine: nil),
                    row(1, runID: 6, metrics: #"{"x_plus_y":{"final_val_acc":0.99876,"step":900}}"#, machine: nil)]
        let tex = ProvenanceTeX.results(runs: rows)
        XCTAssertTrue(tex.contains("\\caption{x\\_plus\\_y: the mean of each metric, per run.}"), tex)
        XCTAssertTrue(tex.contains("Run & final\\_val\\_acc & step \\\\"), tex)
        XCTAssertTrue(tex.contains("Baseline\n & 0.5 % final_val_acc: run_0, gloveboxd run 3, commit 0123456789\n & 1617 % step: run_0, gloveboxd run 3"), tex)
        XCTAssertTrue(tex.contains("Run 1\n & 0.9988 % final_val_acc: run_1, gloveboxd run 6"), tex)
        XCTAssertFalse(tex.contains("gloveboxd run 5"), "a failed attempt is never cited")
    }

    func testEscaping() {
        XCTAssertEqual(ProvenanceTeX.escape("50% of $x_1 & {a}#~^\\"), "50\\% of \\$x\\_1 \\& \\{a\\}\\#\\textasciitilde{}\\textasciicircum{}\\textbackslash{}")
    }
}
