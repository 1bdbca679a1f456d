import Foundation
import GloveboxSystem
import Synchronization

/// One step of a launch, for the user: the stage, the idea (nil for the launch's own steps) and what happened.
public struct LaunchEvent: Sendable, Equatable {
    public var idea: String?
    public var stage: String
    public var detail: String

    public init(idea: String?, stage: String, detail: String) { self.idea = idea; self.stage = stage; self.detail = detail }

    /// "novelty: first: novel: …", or "idea: archived …" for a launch's own step.
    public var line: String { idea.map { "\(stage): \($0): \(detail)" } ?? "\(stage): \(detail)" }
}

/// The launch's progress: one line per idea with its stage, what it is doing (the run in flight), the time since
/// the idea's first step and its cost so far, redrawn in place on a terminal; on anything else, each event as a
/// plain line, as a log would want it.
public final class LaunchProgress: Sendable {
    private struct Row {
        var stage: String
        var detail: String
        var started: ContinuousClock.Instant
    }
    private struct State {
        var rows: [(name: String, row: Row)] = []
        var drawn = 0
    }
    private let state = Mutex(State())
    private let store: ScientistStore
    private let launchID: Int64
    private let fd: Int32
    public let inPlace: Bool

    public init(store: ScientistStore, launchID: Int64, fd: Int32 = 1, inPlace: Bool) {
        self.store = store; self.launchID = launchID; self.fd = fd; self.inPlace = inPlace
    }

    public func record(_ event: LaunchEvent) {
        guard inPlace else { return write(event.line + "\n") }
        // Read before the lock, which is held only to update the board and write it: a board written after
        // another worker's moves the cursor by the wrong number of lines.
        let costs = Dictionary(((try? store.usage(by: .idea, launchID: launchID)) ?? []).map { ($0.key, $0.costUSD) }) { a, _ in a }
        state.withLock { state in
            var prefix = ""
            if let name = event.idea {
                if let index = state.rows.firstIndex(where: { $0.name == name }) {
                    state.rows[index].row.stage = event.stage
                    state.rows[index].row.detail = event.detail
                } else {
                    state.rows.append((name, Row(stage: event.stage, detail: event.detail, started: .now)))
                }
            } else {
                // A launch's own step goes above the board, which is then drawn again below it.
                prefix = event.line + "\n"
                state.drawn = 0
            }
            write(board(&state, prefix: prefix, costs: costs))
        }
    }

    /// The board: the cursor back to its first line, each line cleared and written again.
    private func board(_ state: inout State, prefix: String, costs: [String: Double]) -> String {
        var text = state.drawn > 0 ? "\u{1B}[\(state.drawn)F" : ""
        if !prefix.isEmpty { text += "\u{1B}[2K" + prefix }
        let width = max(8, state.rows.map(\.name.count).max() ?? 0)
        for (name, row) in state.rows {
            let seconds = Int((ContinuousClock.now - row.started).components.seconds)
            let cost = costs.first { $0.key.hasSuffix("/" + name) }?.value ?? 0
            let detail = row.detail.count > 60 ? String(row.detail.prefix(59)) + "…" : row.detail
            text += "\u{1B}[2K" + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.stage.padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: " %2d:%02d  $%.4f  ", seconds / 60, seconds % 60, cost) + detail + "\n"
        }
        state.drawn = state.rows.count
        return text
    }

    private func write(_ text: String) {
        try? writeAll(fd, Array(text.utf8))  // a closed terminal must not stop the launch
    }
}
