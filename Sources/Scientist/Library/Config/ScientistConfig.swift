import Foundation
import TOMLSupport
import TOMLKit

/// Everything the scientist can be told in ~/.config/glovebox/scientist.toml (see docs/scientist.md). Flags on
/// the command line override it; missing keys take the defaults below.
public struct ScientistConfig: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public var provider: ProviderKind = .openai
        public var name: String = "gpt-4o-2024-08-06"
        /// Nil: the provider's public endpoint (https://api.openai.com/v1, https://api.anthropic.com).
        public var baseURL: String?
        public var temperature: Double = 0.75
        public var maxTokens: Int = 4096
        /// Nil: OPENAI_API_KEY or ANTHROPIC_API_KEY, by provider.
        public var apiKeyEnv: String?
        public var apiKeyFile: String?
        public var tokenLimitField: String = "max_tokens"
        /// Nil: the provider's default (json_schema for openai, tool for anthropic).
        public var structuredOutput: StructuredOutput?

        public var resolvedStructuredOutput: StructuredOutput { structuredOutput ?? .defaultMode(for: provider) }

        public var resolvedBaseURL: String {
            baseURL ?? (provider == .openai ? "https://api.openai.com/v1" : "https://api.anthropic.com")
        }
        public var resolvedKeyEnv: String { apiKeyEnv ?? (provider == .openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY") }
    }

    public struct HTTP: Sendable, Equatable {
        public var connectTimeout: Double = 10
        public var timeout: Double = 300
        public var attempts: Int = 5
    }

    public struct Literature: Sendable, Equatable {
        public var engine: LiteratureEngine = .semanticScholar
        public var baseURL: String?
        public var apiKeyEnv: String = "S2_API_KEY"
        public var apiKeyFile: String?
        /// OpenAlex's polite pool: an email address sent as `mailto`.
        public var mailto: String?
        /// Seconds between requests to the engine (Semantic Scholar allows 1 request a second).
        public var minInterval: Double = 1.0
        public var resultsPerQuery: Int = 10
    }

    public var model = Model()
    public var http = HTTP()
    public var budget = Budget()
    public var literature = Literature()
    /// Prices by exact model name, over the built-in table.
    public var prices: [String: Price] = [:]
    public var archivePath: String = ScientistConfig.defaultArchivePath
    public var reflections: Int = 3
    public var noveltyRounds: Int = 10

    public init() {}

    public static var defaultPath: String { UserDirectories.config + "/glovebox/scientist.toml" }

    public static var defaultArchivePath: String { UserDirectories.data + "/glovebox/scientist.db" }

    /// The config at `path`; the defaults when the file does not exist and `required` is false.
    public static func load(path: String, required: Bool = false) throws(ConfigError) -> ScientistConfig {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw ConfigError(file: path, "no such file") }
            return ScientistConfig()
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError(file: path, "cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError(file: path, "not UTF-8 text") }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(ConfigError) -> ScientistConfig {
        let root: TOMLTable
        do { root = try TOMLReader.document(text, source: source) } catch { throw ConfigError(error) }
        return try ConfigReader(reader: TOMLReader(source: source, text: text)).config(root)
    }
}

public enum LiteratureEngine: String, Sendable, Codable, CaseIterable {
    case semanticScholar = "semanticscholar"
    case openAlex = "openalex"
}
