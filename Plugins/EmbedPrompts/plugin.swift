import Foundation
import PackagePlugin

/// Embeds prompts/*.txt (at the package's top) into the target as `ShippedPrompts.texts`.
@main
struct EmbedPrompts: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let directory = context.package.directoryURL.appending(path: "prompts")
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "txt" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "ShippedPrompts.swift")
        return [.buildCommand(displayName: "Embedding \(files.count) prompts",
                              executable: try context.tool(named: "embed-prompts").url,
                              arguments: [output.path] + files.map(\.path),
                              inputFiles: files, outputFiles: [output])]
    }
}
