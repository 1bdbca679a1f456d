import Foundation
import TOMLSupport

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
        do throws(TOMLFileError) { return try read(text, source: source) } catch {
            throw .template(ConfigError(error).description)
        }
    }

    private static func read(_ text: String, source: String) throws(TOMLFileError) -> TemplateSettings {
        let table = try TOMLReader.document(text, source: source)
        let reader = TOMLReader(source: source, text: text)
        try reader.refuseUnknownKeys(table, [], known: keys.sorted())
        var settings = TemplateSettings()
        if let name = try reader.string(table, ["policy"]) {
            guard !name.isEmpty, !name.contains("/") else { throw reader.fail(["policy"], "must be a policy's name") }
            settings.policy = name
        }
        if let path = try reader.string(table, ["interpreter"]) {
            guard path.hasPrefix("/") else {
                throw reader.fail(["interpreter"], "must be an absolute path inside the sandbox, such as /usr/bin/python3")
            }
            settings.interpreter = path
        }
        if let names = try reader.strings(table, ["editable"]) {
            for (index, name) in names.enumerated() where WorkspaceFiles.normalize(name) == nil {
                throw reader.fail(["editable"], element: index, "\(name) is not a relative path inside the template")
            }
            guard names.contains("experiment.py") else { throw reader.fail(["editable"], "must include experiment.py") }
            settings.editable = names
        }
        return settings
    }
}
