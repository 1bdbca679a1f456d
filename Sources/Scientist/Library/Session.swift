import Foundation
import Logging
import SQLiteSupport

/// One launch of a scientist command, wired from the config: the archive, a launch row with its budget, the
/// metered model, and (on demand) the literature search. `finish` records how the launch ended.
public struct Session: Sendable {
    public let config: ScientistConfig
    public let store: ScientistStore
    public let launchID: Int64
    public let model: MeteredModel
    let http: HTTPClient
    let logger: Logger

    /// `resuming`: the id of an earlier launch to go on with (`launch --resume`): its row is marked running
    /// again and its paid replies are replayed to requests made again.
    public static func open(config: ScientistConfig, command: String, logger: Logger, resuming: Int64? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(ScientistError) -> Session {
        let settings = config.model
        let key: APIKey?
        do { key = try KeyLoader.load(environmentVariable: settings.resolvedKeyEnv, file: settings.apiKeyFile, environment: environment) }
        catch { throw .config(error) }
        if key == nil, settings.baseURL == nil {
            throw .config(ConfigError("no API key for \(settings.provider.rawValue): set \(settings.resolvedKeyEnv) or model.api_key_file (a local server needs model.base_url and no key)"))
        }
        let price = PriceTable.price(for: settings.name, overrides: config.prices)
        if config.budget.usd != nil, price == nil { throw .budget(.unpricedModel(model: settings.name)) }
        var modelHTTP = httpConfiguration(config.http)
        modelHTTP.retry.retriesAfterSending = false
        let http = HTTPClient(configuration: httpConfiguration(config.http), logger: logger)
        let modelClient = HTTPClient(configuration: modelHTTP, logger: logger)
        let provider: any ChatProvider = switch settings.provider {
        case .openai: OpenAICompatibleProvider(model: settings.name, baseURL: settings.resolvedBaseURL, key: key,
                                               tokenLimitField: settings.tokenLimitField,
                                               structuredOutput: settings.resolvedStructuredOutput, http: modelClient)
        case .anthropic: AnthropicProvider(model: settings.name, baseURL: settings.resolvedBaseURL, key: key,
                                           structuredOutput: settings.resolvedStructuredOutput, http: modelClient)
        }
        let store: ScientistStore
        let launchID: Int64
        var replay: ReplayCache?
        do {
            store = try ScientistStore(path: config.archivePath)
            if let resuming {
                guard let earlier = try store.launch(id: resuming) else {
                    throw ScientistError.template("no launch \(resuming) in \(config.archivePath) (scientist usage --by launch lists them)")
                }
                guard earlier.model == settings.name else {
                    throw ScientistError.template("launch \(resuming) used the model \(earlier.model); resume it with the same model (--model \(earlier.model))")
                }
                try store.reopenLaunch(resuming)
                launchID = resuming
                replay = ReplayCache(replies: try store.replies(launchID: resuming))
            } else {
                launchID = try store.beginLaunch(command: command, model: settings.name, budget: config.budget)
            }
        } catch let error as ScientistError {
            throw error
        } catch let error as SQLiteError {
            throw .archive(error)
        } catch {
            throw .archive(SQLiteError(operation: "open the launch", code: 1, message: "\(error)"))
        }
        let ledger: UsageLedger
        do {
            ledger = try UsageLedger(budget: config.budget, price: price, provider: settings.provider, model: settings.name,
                                     launchID: launchID, store: store)
        } catch {
            throw .budget(error)
        }
        let model = MeteredModel(provider: provider, ledger: ledger, maxTokens: settings.maxTokens,
                                 temperature: settings.temperature, logger: logger, replay: replay)
        return Session(config: config, store: store, launchID: launchID, model: model, http: http, logger: logger)
    }

    static func httpConfiguration(_ http: ScientistConfig.HTTP) -> HTTPClient.Configuration {
        HTTPClient.Configuration(connectTimeout: .milliseconds(Int64(http.connectTimeout * 1000)),
                                 totalTimeout: .milliseconds(Int64(http.timeout * 1000)),
                                 retry: RetryPolicy(maxAttempts: http.attempts))
    }

    /// The configured engine behind the archive's cache.
    public func literature(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ScientistError) -> any LiteratureSearch {
        let settings = config.literature
        let pacer = RequestPacer(interval: .milliseconds(Int64(settings.minInterval * 1000)))
        let upstream: any LiteratureSearch
        switch settings.engine {
        case .semanticScholar:
            let key: APIKey?
            do { key = try KeyLoader.load(environmentVariable: settings.apiKeyEnv, file: settings.apiKeyFile, environment: environment) }
            catch { throw .config(error) }
            upstream = SemanticScholarSearch(baseURL: settings.baseURL ?? "https://api.semanticscholar.org", key: key, http: http, pacer: pacer)
        case .openAlex:
            upstream = OpenAlexSearch(baseURL: settings.baseURL ?? "https://api.openalex.org", mailto: settings.mailto, http: http, pacer: pacer)
        }
        return CachedLiteratureSearch(upstream: upstream, store: store)
    }

    /// Records the launch's end: "completed", "budget exhausted" or "failed", with a message.
    public func finish(status: String, message: String?) {
        do { try store.finishLaunch(launchID, status: status, message: message) }
        catch { logger.error("cannot record the end of the launch", metadata: ["error": "\(error)"]) }
    }
}
