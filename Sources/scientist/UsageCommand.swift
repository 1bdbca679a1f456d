import ArgumentParser
import Foundation
import Scientist

struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Tokens and cost of the model calls in the archive, by stage, idea or launch.",
        discussion: "Example: scientist usage --by idea --launch 7")

    @OptionGroup var common: CommonOptions

    @Option(help: "stage, idea or launch (default: all three).")
    var by: [ScientistStore.UsageGrouping] = []

    @Option(help: "Only the calls of this launch.")
    var launch: Int64?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try reporting {
            let store = try common.store()
            let groupings = by.isEmpty ? ScientistStore.UsageGrouping.allCases : by
            var tables: [String: [UsageTotal]] = [:]
            for grouping in groupings { tables[grouping.rawValue] = try store.usage(by: grouping, launchID: launch) }
            if json {
                var launches: [LaunchRecord] = []
                if groupings.contains(.launch) { launches = try store.launches() }
                return try JSONOutput.print(UsageReport(usage: tables, launches: launches))
            }
            for grouping in groupings {
                print("by \(grouping.rawValue):")
                print(IdeaText.usage(tables[grouping.rawValue] ?? []))
            }
        }
    }
}

struct UsageReport: Encodable {
    let usage: [String: [UsageTotal]]
    let launches: [LaunchRecord]
}

extension ScientistStore.UsageGrouping: ExpressibleByArgument {}
