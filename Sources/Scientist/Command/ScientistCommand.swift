import ArgumentParser
import Foundation
import Logging
import Scientist

@main
struct ScientistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scientist",
        abstract: "The unprivileged research loop of Glovebox: ideas, novelty checks, experiments through gloveboxd, and the idea archive.",
        discussion: """
        Configuration: ~/.config/glovebox/scientist.toml ($XDG_CONFIG_HOME honoured; --config names another). \
        Flags override it. See docs/scientist.md for every key.

        API keys: from the environment variable named by model.api_key_env (default OPENAI_API_KEY for \
        provider openai, ANTHROPIC_API_KEY for anthropic) or from model.api_key_file, which must be owned by you \
        and not readable by group or others (chmod 600). Semantic Scholar's optional key: S2_API_KEY (or \
        literature.api_key_env / literature.api_key_file). Keys are never printed, logged or stored.

        Archive: ~/.local/share/glovebox/scientist.db ($XDG_DATA_HOME honoured; --archive or archive.path \
        override): ideas, novelty checks with the papers consulted, every model call with tokens and cost, \
        launches with their budgets, the literature cache, and every experiment run as gloveboxd recorded it.

        Experiments never run here: every run of model-written code, plot.py included, goes through gloveboxd \
        ($GLOVEBOX_SOCKET or --socket) under the template's policy. Workspaces: ~/.local/share/glovebox/results.

        Exit status: 0 done; 1 failed (for ideas: every idea failed); 3 stopped by the budget (everything \
        finished before the stop is kept); 130 interrupted (experiment, launch: run it again to resume).

        Examples:
          scientist ideas --template toy_regression --count 3 --budget-usd 1
          scientist ideas list --template toy_regression
          scientist novelty --template toy_regression --budget-usd 0.50
          scientist novelty sparse_targets --engine openalex
          scientist ideas show sparse_targets --json
          scientist experiment sparse_targets --max-runs 3 --budget-usd 2
          scientist launch --template toy_regression --ideas 3 --parallel 2 --budget-usd 5
          scientist runs sparse_targets
          scientist usage --by stage
          # a local llama.cpp, vLLM or Ollama server, no key, a token budget:
          scientist ideas --template toy_regression --model llama3 \\
            --base-url http://127.0.0.1:8080/v1 --budget-tokens 200000
        """,
        subcommands: [IdeasCommand.self, NoveltyCommand.self, ExperimentCommand.self, WriteupCommand.self, VerifyCommand.self, ReviewCommand.self, CalibrateCommand.self, LaunchCommand.self, ReportCommand.self,
                      RunsCommand.self, UsageCommand.self]
    )
}

/// Exit status 3: the budget stopped the launch cleanly.
struct BudgetStop: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension ParsableCommand {
    /// Runs `body`, turning library errors into a message on stderr and the documented exit status.
    func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let stop as BudgetStop {
            FileHandle.standardError.write(Data("scientist: \(stop.message)\n".utf8))
            throw ExitCode(3)
        } catch let error as ScientistError {
            FileHandle.standardError.write(Data("scientist: \(error)\n".utf8))
            throw ExitCode(error.isBudgetStop ? 3 : 1)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("scientist: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
