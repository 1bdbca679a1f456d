import Foundation
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// Each template the project ships runs as it is, under the gloveboxd policy of its name from policies/:
/// `experiment.py --out_dir=run_i` writes results the loop can read, with the datasets and metrics of the
/// template's own run_0, and plot.py (through the plot stage's wrapper) writes figures that come back.
final class ShippedTemplateTests: XCTestCase {
    static let templates = ["toy_regression", "modular_arithmetic"]

    func testEveryShippedTemplateRunsUnderItsOwnPolicy() throws {
        let root = DaemonFixture.repositoryRoot
        var policies: [String: String] = [:]
        for name in Self.templates { policies[name] = try String(contentsOfFile: "\(root)/policies/\(name).toml", encoding: .utf8) }
        let daemon = try DaemonFixture(policies: policies)
        let directory = try TemporaryDirectory("scientist-templates")
        defer {
            daemon.stop()
            directory.remove()
            XCTAssertEqual(HostState.gloveboxCgroups(of: daemon), [], "cgroups left behind")
        }
        let sink = OutputSink(fd: open("/dev/null", O_WRONLY | O_CLOEXEC))
        for name in Self.templates {
            let template = try ResearchTemplate.load(directory: "\(root)/templates/\(name)")
            XCTAssertEqual(template.missingFiles, [], name)
            let (workspace, _) = try IdeaWorkspace.prepare(template: template, ideaName: "check", prefix: name, results: directory.path,
                                                           editable: WorkspaceFiles.defaultEditable)
            let runner = GloveboxRunner(socketPath: daemon.socket, policy: name, sink: sink, canceller: RunCanceller())
            let run = try runner.run(argv: ["/usr/bin/python3", "experiment.py", "--out_dir=run_1"], workdir: workspace.path,
                                     outputs: ["run_1"], label: name)
            XCTAssertEqual(run.status, "ok", "\(name): \(run.stderrTail)")
            let fresh = try RunMetrics.parse(try XCTUnwrap(workspace.files.read("run_1/final_info.json")), file: "run_1").get()
            let shipped = try RunMetrics.parse(try XCTUnwrap(workspace.files.read("run_0/final_info.json")), file: "run_0").get()
            XCTAssertEqual(fresh.means.mapValues { Set($0.keys) }, shipped.means.mapValues { Set($0.keys) },
                           "\(name): the same datasets and metrics as the template's baseline")

            // The software probe sees the NumPy the host's Python has (the policy mounts /usr read-only).
            let probe = try runner.run(argv: ["/usr/bin/python3", "-c", SoftwareProbe.program] + SoftwareProbe.importedModules(template.code),
                                       workdir: workspace.path, outputs: [], label: name + " probe")
            let facts = try XCTUnwrap(SoftwareProbe.facts(fromOutput: probe.stdoutTail), probe.stderrTail)
            let packages = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(facts.utf8)) as? [String: Any])?["packages"] as? [String: [String: Any]])
            let numpy = try DaemonFixture.run(["/usr/bin/python3", "-c", "import numpy; print(numpy.__version__)"]).stdout
            XCTAssertEqual(packages["numpy"]?["version"] as? String, numpy.trimmingCharacters(in: .whitespacesAndNewlines), name)
            XCTAssertEqual(packages["numpy"]?["kind"] as? String, "package", name)

            let plot = try runner.run(argv: ["/usr/bin/python3", "-c", PlotStage.wrapper], workdir: workspace.path, outputs: ["figures"],
                                      label: name + " plot")
            XCTAssertEqual(plot.status, "ok", "\(name): \(plot.stderrTail)")
            let figures = try FileManager.default.contentsOfDirectory(atPath: workspace.path + "/figures")
            XCTAssertFalse(figures.isEmpty, "\(name): plot.py wrote no figure")
        }
    }
}
