import ArgumentParser
import Foundation
import Logging
import Scientist

/// Options every command shares: where the config and archive are, and model and budget overrides.
struct CommonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The config file (default: ~/.config/glovebox/scientist.toml).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("The archive database (default: ~/.local/share/glovebox/scientist.db).", valueName: "path"))
    var archive: String?

    @Option(help: ArgumentHelp("openai (any OpenAI-compatible endpoint) or anthropic.", valueName: "provider"))
    var provider: String?

    @Option(help: ArgumentHelp("The model name, e.g. gpt-4o-2024-08-06 or claude-3-5-sonnet-20241022.", valueName: "name"))
    var model: String?

    @Option(help: ArgumentHelp("The API base URL: a vLLM, llama.cpp, Ollama or OpenRouter endpoint.", valueName: "url"))
    var baseURL: String?

    @Option(help: "Sampling temperature, 0 to 2.")
    var temperature: Double?

    @Option(help: "The most output tokens per call.")
    var maxTokens: Int?

    @Option(name: .customLong("budget-usd"), help: ArgumentHelp("Hard cap on this launch's cost in USD.", valueName: "usd"))
    var budgetUSD: Double?

    @Option(help: ArgumentHelp("Hard cap on this launch's tokens, in and out.", valueName: "n"))
    var budgetTokens: Int?

    @Flag(name: .shortAndLong, help: "Log each model call and search on stderr.")
    var verbose = false

    func validate() throws {
        if let provider, ProviderKind(rawValue: provider) == nil { throw ValidationError("--provider must be openai or anthropic") }
        if let temperature, !(0...2).contains(temperature) { throw ValidationError("--temperature must be between 0 and 2") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let budgetUSD, !(budgetUSD > 0) { throw ValidationError("--budget-usd must be greater than 0") }
        if let budgetTokens, budgetTokens < 1 { throw ValidationError("--budget-tokens must be at least 1") }
        if let baseURL, !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) {
            throw ValidationError("--base-url must be an http:// or https:// URL")
        }
    }

    /// The config file with the flags applied over it.
    func resolved() throws(ConfigError) -> ScientistConfig {
        var result = try ScientistConfig.load(path: config ?? ScientistConfig.defaultPath, required: config != nil)
        if let archive { result.archivePath = archive }
        if let provider, let kind = ProviderKind(rawValue: provider) {
            if kind != result.model.provider { result.model.apiKeyEnv = nil }
            result.model.provider = kind
        }
        if let model { result.model.name = model }
        if let baseURL { result.model.baseURL = baseURL }
        if let temperature { result.model.temperature = temperature }
        if let maxTokens { result.model.maxTokens = maxTokens }
        if let budgetUSD { result.budget.usd = budgetUSD }
        if let budgetTokens { result.budget.tokens = budgetTokens }
        return result
    }

    func logger() -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "scientist")
        logger.logLevel = verbose ? .info : .warning
        return logger
    }

    /// The archive alone, for commands that call no model.
    func store() throws -> ScientistStore {
        let config = try resolved()
        do { return try ScientistStore(path: config.archivePath) } catch { throw ScientistError.archive(error) }
    }
}

/// Where templates are looked up by name.
/// The archived idea a stage command works on (experiment, writeup), and its template.
struct IdeaChoice: ParsableArguments {
    @Argument(help: "The idea's name or id in the archive.")
    var idea: String

    @Option(help: ArgumentHelp("The idea's template (a name or directory; default: the idea's own).", valueName: "T"))
    var template: String?

    /// The idea in the session's archive, and its template (--template, else the idea's own) from
    /// `templates`; an idea not in the archive ends the session as failed and says where to look.
    func find(in session: Session, templates: TemplateOptions) throws -> (idea: ArchivedIdea, template: ResearchTemplate) {
        let templateName = template.map { URL(fileURLWithPath: $0).lastPathComponent }
        guard let found = try IdeaLookup.find(idea, template: templateName, in: session.store) else {
            session.finish(status: "failed", message: "no idea \(idea)")
            throw ScientistError.template("no idea \(idea) in \(session.store.path) (scientist ideas list shows them)")
        }
        return (found, try templates.load(template ?? found.template))
    }
}

struct TemplateOptions: ParsableArguments {
    @Option(name: .customLong("templates-dir"), help: ArgumentHelp("A directory of templates searched by name (default: ./templates, then ~/.local/share/glovebox/templates).", valueName: "dir"))
    var templatesDirectory: String?

    var searchPath: [String] {
        if let templatesDirectory { return [templatesDirectory] }
        return [FileManager.default.currentDirectoryPath + "/templates", UserDirectories.data + "/glovebox/templates"]
    }

    func load(_ reference: String) throws -> ResearchTemplate {
        try ResearchTemplate.load(directory: ResearchTemplate.locate(reference, searchPath: searchPath))
    }
}

/// The experiment stage's options, shared by `experiment` and `launch`.
struct ExperimentOptions: ParsableArguments {
    @Option(help: "The most experiment runs per idea (run_1 … run_N).")
    var maxRuns = 5

    @Option(help: "The most failed attempts in a row before an idea is abandoned.")
    var maxAttempts = 4

    @Option(help: ArgumentHelp("Where workspaces go (default: ~/.local/share/glovebox/results).", valueName: "dir"))
    var results: String?

    @Option(help: ArgumentHelp("gloveboxd's socket (default: $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("The gloveboxd policy for the runs (default: the template's).", valueName: "name"))
    var policy: String?

    func validate() throws {
        if !(1...100).contains(maxRuns) { throw ValidationError("--max-runs must be between 1 and 100") }
        if !(1...20).contains(maxAttempts) { throw ValidationError("--max-attempts must be between 1 and 20") }
        if let policy, policy.isEmpty || policy.contains("/") { throw ValidationError("--policy must be a policy's name") }
    }

    /// The stage's options from these flags (the workspace prefix left to the caller).
    var stage: ExperimentStage.Options {
        var options = ExperimentStage.Options()
        options.maxRuns = maxRuns
        options.maxAttempts = maxAttempts
        options.socket = socket
        options.policy = policy
        if let results { options.results = URL(fileURLWithPath: results).standardizedFileURL.path }
        return options
    }
}

extension Session {
    /// Runs a command's stage and records how it ended when it did not: an interrupt is status "interrupted"
    /// and exit 130, a budget stop "budget exhausted" and exit 3 (with what was spent, when `spent`), anything
    /// else "failed" and the error. `note` is added to the interrupt's and the budget stop's messages.
    func stage<T>(note: String = "", spent: Bool = true, _ body: () throws(ScientistError) -> T) throws -> T {
        do {
            return try body()
        } catch .interrupted {
            finish(status: "interrupted", message: nil)
            FileHandle.standardError.write(Data("scientist: \(ScientistError.interrupted)\(note)\n".utf8))
            throw ExitCode(130)
        } catch where error.isBudgetStop {
            finish(status: "budget exhausted", message: error.description)
            if spent { Console.line(IdeaText.spent(model.ledger)) }
            throw BudgetStop(message: error.description + note)
        } catch {
            finish(status: "failed", message: error.description)
            throw error
        }
    }
}
