import Foundation
import SQLiteSupport

/// A launch's report, `<results>/launch<N>/report/index.html`: one static page that opens from the file
/// system and needs no JavaScript. A summary compares the ideas; then, for each idea, its scores and novelty
/// verdict with the papers consulted, its runs against the baseline with the compute each used, its plots, its
/// paper (linked, the PDF copied beside the page, its first page drawn as an image), its reviews, and the cost
/// of each stage. Images are embedded, so the page is one file plus the papers it links.
public struct LaunchReport: Sendable {
    public let store: ScientistStore
    /// Draws a paper's first page (pdftoppm through gloveboxd); nil leaves the image out.
    public let pages: PaperText?

    public init(store: ScientistStore, pages: PaperText?) { self.store = store; self.pages = pages }

    /// Writes the report of launch `launchID` under `results`; returns the page's path.
    @discardableResult
    public func write(launchID: Int64, results: String) throws(ScientistError) -> String {
        let directory = results + "/launch\(launchID)/report"
        do {
            try FileManager.default.createDirectory(atPath: directory + "/papers", withIntermediateDirectories: true)
        } catch { throw .workspace("cannot make \(directory): \(error.localizedDescription)") }
        let html = try page(launchID: launchID, directory: directory)
        let path = directory + "/index.html"
        do { try Data(html.utf8).write(to: URL(fileURLWithPath: path)) } catch { throw .workspace("cannot write \(path): \(error.localizedDescription)") }
        return path
    }

    /// What the report shows of one idea.
    struct IdeaFacts {
        var idea: ArchivedIdea
        var checks: [NoveltyCheckRecord]
        var experiment: ExperimentRow?
        var runs: [ExperimentRunRow]
        var paper: PaperRow?
        var reviews: [ReviewRow]
        var usage: [UsageTotal]
    }

    func facts(launchID: Int64) throws(ScientistError) -> [IdeaFacts] {
        do {
            return try store.ideas().filter { $0.launchID == launchID && $0.source == .generated }.map { idea throws(SQLiteError) in
                let experiment = try store.experiments(ideaID: idea.id).last { $0.launchID == launchID || $0.workspace.hasSuffix("/launch\(launchID)_\(idea.proposal.name)") }
                let runs = try experiment.map { (row) throws(SQLiteError) in try store.experimentRuns(experimentID: row.id) } ?? []
                let paper = try store.papers(ideaID: idea.id).last { $0.experimentID == experiment?.id && $0.pdf != nil }
                let reviews = try store.reviews(ideaID: idea.id).filter { $0.paperID != nil && $0.paperID == paper?.id }
                return IdeaFacts(idea: idea, checks: try store.noveltyChecks(ideaID: idea.id), experiment: experiment, runs: runs, paper: paper,
                                 reviews: reviews, usage: try store.usage(by: .stage, launchID: launchID, ideaID: idea.id))
            }
        } catch { throw .archive(error) }
    }

    func page(launchID: Int64, directory: String) throws(ScientistError) -> String {
        let ideas = try facts(launchID: launchID)
        let launch: LaunchRecord?
        do { launch = try store.launch(id: launchID) } catch { throw .archive(error) }
        var body = "<h1>Launch \(launchID)</h1>\n"
        if let launch {
            body += "<p class=\"meta\">\(escape(launch.command)) · model \(escape(launch.model)) · \(escape(launch.status))"
                + (launch.message.map { " · " + escape($0) } ?? "") + " · started \(Self.date(launch.startedAt))</p>\n"
        }
        body += summary(ideas)
        for facts in ideas { body += try section(facts, directory: directory) }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Launch \(launchID): the scientist's report</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            \(body)
            <p class="meta">Written by scientist from its archive (\(escape(store.path))) and gloveboxd's records. Every number above was measured or counted; none was written by the model.</p>
            </body>
            </html>
            """
    }

    func summary(_ ideas: [IdeaFacts]) -> String {
        var rows = ""
        for facts in ideas {
            let p = facts.idea.proposal
            let review = facts.reviews.last
            let cost = facts.usage.reduce(0) { $0 + $1.costUSD }
            rows += "<tr><td><a href=\"#\(anchor(p.name))\">\(escape(p.name))</a></td><td>\(p.interestingness)/\(p.feasibility)/\(p.novelty)</td>"
                + "<td>\(escape(facts.idea.novelty?.rawValue ?? "not checked"))</td><td>\(escape(facts.experiment?.status ?? "not run"))</td>"
                + "<td>\(facts.runs.filter { $0.stage == .experiment && $0.outcome == .ok }.count)</td>"
                + "<td>\(escape(facts.paper?.status ?? "none"))</td>"
                + "<td>\(review.map { "\(escape($0.review.decision)) (\($0.review.overall)/10)" } ?? "none")</td>"
                + "<td>\(String(format: "$%.4f", cost))</td></tr>\n"
        }
        return """
            <h2>Summary</h2>
            <table>
            <tr><th>Idea</th><th>Scores (I/F/N)</th><th>Novelty</th><th>Experiments</th><th>Runs with results</th><th>Paper</th><th>Review</th><th>Cost</th></tr>
            \(rows)</table>

            """
    }

    func section(_ facts: IdeaFacts, directory: String) throws(ScientistError) -> String {
        let p = facts.idea.proposal
        var html = "<section id=\"\(anchor(p.name))\">\n<h2>\(escape(p.name)): \(escape(p.title))</h2>\n"
        html += "<p>Interestingness \(p.interestingness), feasibility \(p.feasibility), novelty \(p.novelty). \(escape(p.experiment))</p>\n"
        html += novelty(facts)
        html += runs(facts)
        html += plots(facts)
        html += try paper(facts, directory: directory)
        html += reviews(facts)
        html += cost(facts)
        return html + "</section>\n"
    }

    func novelty(_ facts: IdeaFacts) -> String {
        var html = "<h3>Novelty: \(escape(facts.idea.novelty?.rawValue ?? "not checked"))</h3>\n"
        guard let check = facts.checks.last else { return html }
        if let reasons = check.reasons { html += "<p>\(escape(reasons))</p>\n" }
        let consulted = check.rounds.flatMap { round in round.papers.map { (round.query ?? "", $0) } }
        if !consulted.isEmpty {
            html += "<ul class=\"papers\">\n" + consulted.map { query, paper in
                "<li>\(escape(paper.title))\(paper.year.map { " (\($0))" } ?? "") <span class=\"meta\">— for “\(escape(query))”</span></li>"
            }.joined(separator: "\n") + "\n</ul>\n"
        }
        return html
    }

    func runs(_ facts: IdeaFacts) -> String {
        let rows = facts.runs.filter { $0.stage != .plot }
        guard !rows.isEmpty else { return "<h3>Runs</h3>\n<p>None.</p>\n" }
        let baseline = ComputeReport.means(rows.last { $0.number == 0 && $0.outcome == .ok }?.metrics)
        let compute = ComputeReport(runs: rows)
        var html = "<h3>Runs</h3>\n<table>\n<tr><th>Run</th><th>Outcome</th><th>gloveboxd run</th><th>Metrics (against the baseline)</th><th>Wall</th><th>Peak memory</th><th>Compute against the baseline</th></tr>\n"
        for row in rows {
            let metrics = ComputeReport.means(row.metrics).sorted { $0.key < $1.key }.flatMap { dataset, values in
                values.sorted { $0.key < $1.key }.map { metric, value -> String in
                    let base = baseline[dataset]?[metric]
                    let delta = base.map { row.number == 0 ? "" : String(format: " (%+.4g)", value - $0) } ?? ""
                    return "\(escape(dataset)).\(escape(metric)) " + String(format: "%.4g", value) + delta
                }
            }.joined(separator: "<br>")
            let ratios = compute.rows.first { $0.run == row.number && row.outcome == .ok }?.ratios.sorted { $0.key < $1.key }
                .map { "\($0.key) " + String(format: "%.2f×", $0.value) }.joined(separator: ", ") ?? ""
            html += "<tr><td>\(row.number == 0 ? "baseline" : "run \(row.number)") <span class=\"meta\">try \(row.attempt)</span></td>"
                + "<td class=\"\(row.outcome == .ok ? "ok" : "bad")\">\(escape(row.outcome.rawValue))\(row.message.isEmpty ? "" : ": " + escape(String(row.message.prefix(160))))</td>"
                + "<td>\(row.run.runID.map(String.init) ?? "–")</td><td>\(metrics.isEmpty ? "–" : metrics)</td>"
                + "<td>\(row.run.wallSeconds.map { String(format: $0 < 10 ? "%.2f s" : "%.1f s", $0) } ?? "–")</td>"
                + "<td>\(row.run.peakMemoryBytes.map { String(format: "%.1f MiB", Double($0) / 1048576) } ?? "–")</td><td>\(escape(ratios))</td></tr>\n"
        }
        html += "</table>\n"
        for flag in compute.flags { html += "<p class=\"flag\">Flagged for review: \(escape(flag.text))</p>\n" }
        return html
    }

    func plots(_ facts: IdeaFacts) -> String {
        guard let workspace = facts.experiment?.workspace,
              let plot = facts.runs.last(where: { $0.stage == .plot && $0.outcome == .ok }) else { return "" }
        var html = "<h3>Plots</h3>\n<div class=\"plots\">\n"
        for path in plot.outputs.keys.sorted() {
            let lower = path.lowercased()
            let type = lower.hasSuffix(".png") ? "image/png" : lower.hasSuffix(".svg") ? "image/svg+xml" : lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") ? "image/jpeg" : nil
            guard let type, let data = FileManager.default.contents(atPath: workspace + "/" + path) else { continue }
            html += "<figure><img src=\"data:\(type);base64,\(data.base64EncodedString())\" alt=\"\(escape(path))\"><figcaption>\(escape(path))</figcaption></figure>\n"
        }
        return html + "</div>\n"
    }

    func paper(_ facts: IdeaFacts, directory: String) throws(ScientistError) -> String {
        guard let paper = facts.paper, let pdf = paper.pdf, FileManager.default.fileExists(atPath: pdf) else {
            return "<h3>Paper</h3>\n<p>None\(facts.paper.map { ": " + escape($0.status) } ?? "").</p>\n"
        }
        let name = facts.idea.proposal.name + ".pdf"
        let copy = directory + "/papers/" + name
        try? FileManager.default.removeItem(atPath: copy)
        do { try FileManager.default.copyItem(atPath: pdf, toPath: copy) } catch { throw .workspace("cannot copy \(pdf) into the report: \(error.localizedDescription)") }
        var html = "<h3>Paper: \(escape(paper.status))</h3>\n<p><a href=\"papers/\(escape(name))\">\(escape(name))</a>"
            + " <span class=\"meta\">(provenance: \(escape(paper.directory))/paper.json)</span></p>\n"
        if let pages, let image = try? pages.firstPage(pdf, label: "\(facts.idea.proposal.name) first page") {
            html += "<a href=\"papers/\(escape(name))\"><img class=\"page\" src=\"data:image/png;base64,\(image.base64EncodedString())\" alt=\"the first page of \(escape(name))\"></a>\n"
        }
        return html
    }

    func reviews(_ facts: IdeaFacts) -> String {
        guard !facts.reviews.isEmpty else { return "<h3>Reviews</h3>\n<p>None.</p>\n" }
        var html = "<h3>Reviews</h3>\n"
        for row in facts.reviews {
            let r = row.review
            html += "<div class=\"review\"><p><b>\(row.ensemble.count > 1 ? "Meta-review" : "Review"): \(escape(r.decision))</b>, overall \(r.overall)/10, confidence \(r.confidence)/5 · "
                + "originality \(r.originality), quality \(r.quality), clarity \(r.clarity), significance \(r.significance), soundness \(r.soundness), presentation \(r.presentation), contribution \(r.contribution) (of 4)</p>\n"
                + "<p>\(escape(r.summary))</p>\n"
                + "<ul>" + r.strengths.map { "<li class=\"plus\">\(escape($0))</li>" }.joined() + r.weaknesses.map { "<li class=\"minus\">\(escape($0))</li>" }.joined() + "</ul>\n"
            if let flag = row.computeFlag { html += "<p class=\"flag\">Compute flag: \(escape(flag))</p>\n" }
            if row.ensemble.count > 1 {
                html += "<details open><summary>The ensemble's \(row.ensemble.count) reviews: " + row.ensemble.map { "\(escape($0.decision)) \($0.overall)/10" }.joined(separator: ", ")
                    + "</summary>\n<ol>" + row.ensemble.map { review in
                        "<li><b>\(escape(review.decision))</b>, overall \(review.overall)/10: \(escape(review.summary))<ul>"
                            + review.weaknesses.map { "<li class=\"minus\">\(escape($0))</li>" }.joined() + "</ul></li>"
                    }.joined(separator: "\n") + "</ol></details>\n"
            }
            html += "</div>\n"
        }
        return html
    }

    func cost(_ facts: IdeaFacts) -> String {
        guard !facts.usage.isEmpty else { return "" }
        let rows = facts.usage.map { total in
            "<tr><td>\(escape(total.key))</td><td>\(total.calls)</td><td>\(total.inputTokens)</td><td>\(total.outputTokens)</td><td>\(String(format: "$%.4f", total.costUSD))\(total.unpricedCalls > 0 ? " (\(total.unpricedCalls) unpriced)" : "")</td></tr>"
        }.joined(separator: "\n")
        return "<h3>Cost by stage</h3>\n<table>\n<tr><th>Stage</th><th>Calls</th><th>Tokens in</th><th>Tokens out</th><th>Cost</th></tr>\n\(rows)\n</table>\n"
    }

    func anchor(_ name: String) -> String { "idea-" + name.filter { $0.isLetter || $0.isNumber || $0 == "_" } }

    func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func date(_ time: Double) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }

    static let style = """
        body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
        table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
        th{background:#f4f4f4}.meta{color:#666;font-size:.9em}.ok{color:#1a7f37}.bad{color:#b42318}
        .flag{background:#fff4e5;border-left:4px solid #f79009;padding:.4em .6em}
        section{border-top:2px solid #ddd;margin-top:2em}.plots{display:flex;flex-wrap:wrap;gap:1em}
        figure{margin:0}figure img{max-width:28em;border:1px solid #ddd}img.page{max-width:24em;border:1px solid #999}
        li.plus::marker{content:"+ "}li.minus::marker{content:"− "}.review{border:1px solid #ddd;padding:.2em .8em;margin:.5em 0}
        """
}
