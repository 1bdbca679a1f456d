import ArgumentParser
import Policy

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Work with policy files.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate policy files; prints each problem with its file and line.",
            discussion: "Exit status 0 when every file is valid, 1 otherwise.")

        @Argument(help: "Policy files (<template>.toml).")
        var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let policy = try Policy.load(path: file)
                    print("\(file): ok (template '\(policy.template)', timeout \(DurationText.format(policy.limits.timeoutSeconds)), memory \(ByteSize.format(policy.limits.memoryBytes)))")
                } catch {
                    print("\(error)")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}
