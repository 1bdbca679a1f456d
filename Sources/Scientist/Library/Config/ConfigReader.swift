import Foundation
import TOMLSupport
import TOMLKit

/// Reads a parsed scientist.toml into `ScientistConfig`, refusing unknown keys and wrong types with file:line.
struct ConfigReader {
    /// The typed reads and file:line errors, shared with gloveboxd's policy parser (TOMLSupport).
    let reader: TOMLReader

    static let tables: [String: Set<String>] = [
        "model": ["provider", "name", "base_url", "temperature", "max_tokens", "api_key_env", "api_key_file", "token_limit_field",
                  "structured_output"],
        "http": ["connect_timeout", "timeout", "attempts"],
        "budget": ["usd", "tokens"],
        "literature": ["engine", "base_url", "api_key_env", "api_key_file", "mailto", "min_interval", "results_per_query"],
        "archive": ["path"],
        "ideas": ["reflections"],
        "novelty": ["rounds"],
        "prices": [],
    ]

    func config(_ root: TOMLTable) throws(ConfigError) -> ScientistConfig {
        var config = ScientistConfig()
        for key in root.keys.sorted() {
            guard let allowed = Self.tables[key] else {
                throw fail([key], "unknown table (known: \(Self.tables.keys.sorted().joined(separator: ", ")))")
            }
            guard let table = root[key]?.table else { throw fail([key], "expected a table") }
            if key != "prices" {
                for inner in table.keys.sorted() where !allowed.contains(inner) {
                    throw fail([key, inner], "unknown key (known in [\(key)]: \(allowed.sorted().joined(separator: ", ")))")
                }
            }
        }
        if let t = root["model"]?.table { try readModel(t, into: &config.model) }
        if let t = root["http"]?.table {
            config.http.connectTimeout = try positive(t, ["http", "connect_timeout"]) ?? config.http.connectTimeout
            config.http.timeout = try positive(t, ["http", "timeout"]) ?? config.http.timeout
            config.http.attempts = try integer(t, ["http", "attempts"], 1...20) ?? config.http.attempts
        }
        if let t = root["budget"]?.table {
            config.budget.usd = try positive(t, ["budget", "usd"])
            config.budget.tokens = try integer(t, ["budget", "tokens"], 1...Int.max)
        }
        if let t = root["literature"]?.table { try readLiterature(t, into: &config.literature) }
        if let t = root["archive"]?.table, let path = try string(t, ["archive", "path"]) { config.archivePath = expand(path) }
        if let t = root["ideas"]?.table { config.reflections = try integer(t, ["ideas", "reflections"], 0...20) ?? config.reflections }
        if let t = root["novelty"]?.table { config.noveltyRounds = try integer(t, ["novelty", "rounds"], 1...50) ?? config.noveltyRounds }
        if let t = root["prices"]?.table { config.prices = try readPrices(t) }
        return config
    }

    private func readModel(_ t: TOMLTable, into model: inout ScientistConfig.Model) throws(ConfigError) {
        if let text = try string(t, ["model", "provider"]) {
            guard let kind = ProviderKind(rawValue: text) else {
                throw fail(["model", "provider"], "unknown provider \"\(text)\" (openai for any OpenAI-compatible endpoint, or anthropic)")
            }
            model.provider = kind
        }
        model.name = try string(t, ["model", "name"]) ?? model.name
        if let url = try string(t, ["model", "base_url"]) { model.baseURL = try httpURL(url, ["model", "base_url"]) }
        if let value = try number(t, ["model", "temperature"]) {
            guard (0...2).contains(value) else { throw fail(["model", "temperature"], "must be between 0 and 2") }
            model.temperature = value
        }
        model.maxTokens = try integer(t, ["model", "max_tokens"], 1...1_000_000) ?? model.maxTokens
        model.apiKeyEnv = try string(t, ["model", "api_key_env"]) ?? model.apiKeyEnv
        model.apiKeyFile = try string(t, ["model", "api_key_file"]).map(expand) ?? model.apiKeyFile
        if let text = try string(t, ["model", "structured_output"]) {
            let modes = StructuredOutput.modes(for: model.provider)
            guard let mode = StructuredOutput(rawValue: text), modes.contains(mode) else {
                throw fail(["model", "structured_output"], "must be one of \(modes.map(\.rawValue).joined(separator: ", ")) for provider \(model.provider.rawValue)")
            }
            model.structuredOutput = mode
        }
        if let field = try string(t, ["model", "token_limit_field"]) {
            guard ["max_tokens", "max_completion_tokens"].contains(field) else {
                throw fail(["model", "token_limit_field"], "must be \"max_tokens\" or \"max_completion_tokens\"")
            }
            model.tokenLimitField = field
        }
    }

    private func readLiterature(_ t: TOMLTable, into lit: inout ScientistConfig.Literature) throws(ConfigError) {
        if let text = try string(t, ["literature", "engine"]) {
            guard let engine = LiteratureEngine(rawValue: text) else {
                throw fail(["literature", "engine"], "unknown engine \"\(text)\" (semanticscholar or openalex)")
            }
            lit.engine = engine
        }
        if let url = try string(t, ["literature", "base_url"]) { lit.baseURL = try httpURL(url, ["literature", "base_url"]) }
        lit.apiKeyEnv = try string(t, ["literature", "api_key_env"]) ?? lit.apiKeyEnv
        lit.apiKeyFile = try string(t, ["literature", "api_key_file"]).map(expand) ?? lit.apiKeyFile
        lit.mailto = try string(t, ["literature", "mailto"]) ?? lit.mailto
        if let value = try number(t, ["literature", "min_interval"]) {
            guard value >= 0 else { throw fail(["literature", "min_interval"], "must not be negative") }
            lit.minInterval = value
        }
        lit.resultsPerQuery = try integer(t, ["literature", "results_per_query"], 1...100) ?? lit.resultsPerQuery
    }

    private func readPrices(_ t: TOMLTable) throws(ConfigError) -> [String: Price] {
        var prices: [String: Price] = [:]
        for model in t.keys.sorted() {
            let path = ["prices", model]
            guard let entry = t[model]?.table else { throw fail(path, "expected a table with input and output (USD per million tokens)") }
            for key in entry.keys where key != "input" && key != "output" {
                throw fail(path + [key], "unknown key (a price has input and output, USD per million tokens)")
            }
            guard let input = try number(entry, path + ["input"]), let output = try number(entry, path + ["output"]) else {
                throw fail(path, "a price needs both input and output (USD per million tokens)")
            }
            guard input >= 0, output >= 0 else { throw fail(path, "prices must not be negative") }
            prices[model] = Price(inputPerMillion: input, outputPerMillion: output)
        }
        return prices
    }

    // MARK: Values

    private func string(_ t: TOMLTable, _ path: [String]) throws(ConfigError) -> String? {
        let text: String?
        do { text = try reader.string(t, path) } catch { throw ConfigError(error) }
        if text?.isEmpty == true { throw fail(path, "must not be empty") }
        return text
    }

    private func number(_ t: TOMLTable, _ path: [String]) throws(ConfigError) -> Double? {
        let value: Double?
        do { value = try reader.number(t, path) } catch { throw ConfigError(error) }
        if let value, !value.isFinite { throw fail(path, "must be a finite number") }
        return value
    }

    private func positive(_ t: TOMLTable, _ path: [String]) throws(ConfigError) -> Double? {
        guard let value = try number(t, path) else { return nil }
        guard value > 0 else { throw fail(path, "must be greater than 0") }
        return value
    }

    private func integer(_ t: TOMLTable, _ path: [String], _ range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        let value: Int?
        do { value = try reader.integer(t, path) } catch { throw ConfigError(error) }
        guard let value else { return nil }
        guard range.contains(value) else {
            throw fail(path, range.upperBound == Int.max ? "must be at least \(range.lowerBound)" : "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    private func httpURL(_ text: String, _ path: [String]) throws(ConfigError) -> String {
        guard text.hasPrefix("https://") || text.hasPrefix("http://") else { throw fail(path, "must be an http:// or https:// URL") }
        return text
    }

    private func expand(_ path: String) -> String {
        path.hasPrefix("~/") ? UserDirectories.home + path.dropFirst() : path
    }

    private func fail(_ path: [String], _ message: String) -> ConfigError { ConfigError(reader.fail(path, message)) }
}

extension ConfigError {
    init(_ error: TOMLFileError) { self.init(file: error.file, line: error.line, error.message) }
}
