import Foundation
import PackagePlugin

/// Embeds prompts/*.txt, paper/*.tex and review-examples/*.{txt,json} (at the package's top) into the target as
/// `ShippedPrompts.texts`, `ShippedPaper.files` and `ShippedReviewExamples.files`.
@main
struct EmbedPrompts: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        func files(_ folder: String, _ suffix: String) throws -> [URL] {
            try FileManager.default.contentsOfDirectory(at: context.package.directoryURL.appending(path: folder), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == suffix }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        let files = try files("prompts", "txt") + files("paper", "tex") + files("review-examples", "txt") + files("review-examples", "json")
        let output = context.pluginWorkDirectoryURL.appending(path: "ShippedPrompts.swift")
        return [.buildCommand(displayName: "Embedding \(files.count) prompts",
                              executable: try context.tool(named: "embed-prompts").url,
                              arguments: [output.path] + files.map(\.path),
                              inputFiles: files, outputFiles: [output])]
    }
}
