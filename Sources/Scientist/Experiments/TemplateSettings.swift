import Foundation
import TOMLKit

/// What a template may say about its experiments, in an optional `scientist.toml` beside its `experiment.py`
/// (the AI Scientist's templates have none, and get the defaults):
///
///     policy = "toy_regression"          # gloveboxd's policy for its runs (default: the template's name)
///     interpreter = "/opt/venv/bin/python"  # default /usr/bin/python3
///     editable = ["experiment.py", "plot.py", "notes.txt", "model.py"]
public struct TemplateSettings: Sendable, Equatable {
    public var policy: String?
    public var interpreter = "/usr/bin/python3"
    public var editable = WorkspaceFiles.defaultEditable

    public init() {}

    public static let fileName = "scientist.toml"
    static let keys: Set<String> = ["policy", "interpreter", "editable"]

    public static func load(template: ResearchTemplate) throws(ScientistError) -> TemplateSettings {
        let path = template.directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return TemplateSettings() }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    public static func parse(_ text: String, source: String) throws(ScientistError) -> TemplateSettings {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw .template("\(source):\(error.source.begin.line): TOML syntax error: \(error.description)")
        } catch {
            throw .template("\(source): TOML syntax error: \(error)")
        }
        var settings = TemplateSettings()
        for key in table.keys.sorted() where !keys.contains(key) {
            throw .template("\(source): unknown key \(key) (known: \(keys.sorted().joined(separator: ", ")))")
        }
        if let value = table["policy"] {
            guard let name = value.string, !name.isEmpty, !name.contains("/") else { throw .template("\(source): policy must be a policy's name") }
            settings.policy = name
        }
        if let value = table["interpreter"] {
            guard let path = value.string, path.hasPrefix("/") else {
                throw .template("\(source): interpreter must be an absolute path inside the sandbox, such as /usr/bin/python3")
            }
            settings.interpreter = path
        }
        if let value = table["editable"] {
            guard let array = value.array else { throw .template("\(source): editable must be an array of relative paths") }
            var names: [String] = []
            for item in array {
                guard let name = item.string, WorkspaceFiles.normalize(name) != nil else {
                    throw .template("\(source): editable holds \(item), which is not a relative path inside the template")
                }
                names.append(name)
            }
            guard names.contains("experiment.py") else { throw .template("\(source): editable must include experiment.py") }
            settings.editable = names
        }
        return settings
    }
}
