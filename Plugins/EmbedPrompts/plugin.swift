import Foundation
import PackagePlugin

/// Embeds prompts/*.txt and paper/*.tex (at the package's top) into the target as `ShippedPrompts.texts` and
/// `ShippedPaper.files`.
@main
struct EmbedPrompts: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        func files(_ folder: String, _ suffix: String) throws -> [URL] {
            try FileManager.default.contentsOfDirectory(at: context.package.directoryURL.appending(path: folder), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == suffix }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        let files = try files("prompts", "txt") + files("paper", "tex")
        let output = context.pluginWorkDirectoryURL.appending(path: "ShippedPrompts.swift")
        return [.buildCommand(displayName: "Embedding \(files.count) prompts",
                              executable: try context.tool(named: "embed-prompts").url,
                              arguments: [output.path] + files.map(\.path),
                              inputFiles: files, outputFiles: [output])]
    }
}
