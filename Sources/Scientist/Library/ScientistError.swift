import SQLiteSupport

/// Why a step of the research loop failed. `.budget` ends the loop cleanly; the others fail one step (one idea,
/// one novelty check) and the loop goes on or stops as the caller decides.
public enum ScientistError: Error, Sendable, CustomStringConvertible {
    case budget(BudgetError)
    case model(ModelError)
    /// The model's JSON was unusable even after the repair prompt.
    case reply(stage: String, problem: String)
    case literature(LiteratureError)
    case archive(SQLiteError)
    case config(ConfigError)
    case template(String)
    /// The idea's workspace could not be made or changed (git, files).
    case workspace(String)
    /// gloveboxd could not run the experiment (unreachable, refused).
    case run(String)
    /// Ctrl-C, or a signal: the run in flight was cancelled; what finished is kept.
    case interrupted

    public var description: String {
        switch self {
        case let .budget(error): "\(error)"
        case let .model(error): "\(error)"
        case let .reply(stage, problem): "\(stage): the model's reply was unusable after one repair prompt: \(problem)"
        case let .literature(error): "\(error)"
        case let .archive(error): "archive: \(error)"
        case let .config(error): "\(error)"
        case let .template(message): "template: \(message)"
        case let .workspace(message): "workspace: \(message)"
        case let .run(message): "sandbox: \(message)"
        case .interrupted: "interrupted; everything finished so far is kept, and running the command again resumes"
        }
    }

    public var isArchiveFailure: Bool {
        if case .archive = self { return true }
        return false
    }

    /// The budget refused a call: the loop stops cleanly. (A budget that cannot be enforced is a
    /// configuration error, not a stop.)
    public var isBudgetStop: Bool {
        switch self {
        case .budget(.wouldExceedUSD), .budget(.wouldExceedTokens): true
        default: false
        }
    }
}
