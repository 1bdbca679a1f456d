import Foundation
import Testing

/// The module graph, read from Package.swift: every edge (a target's dependency, or a C target's header
/// search path into another target's directory) points from a zone to itself or to one below it. The zones
/// are the folders under Sources/: Shared below everything; InRun (the launcher's children and pid 1) below
/// the daemon, which starts them; Client below the scientist, whose only way to gloveboxd it is.
struct ModuleGraphTests {
    enum Zone: String, CaseIterable {
        case shared = "Shared", inRun = "InRun", daemon = "Daemon", client = "Client", scientist = "Scientist"

        /// The zones an edge from this one may reach, besides itself.
        var below: Set<Zone> {
            switch self {
            case .shared: return []
            case .inRun, .client: return [.shared]
            case .daemon: return [.shared, .inRun]
            case .scientist: return [.shared, .client]
            }
        }

        func mayDependOn(_ other: Zone) -> Bool { other == self || below.contains(other) }
    }

    struct Target {
        let name: String
        let path: String?
        let dependencies: [String]
        let headerSearchPaths: [String]

        /// The zone of a target under Sources/<Zone>/; nil for the tools, plugins and tests.
        var zone: Zone? { path.flatMap(ModuleGraphTests.zone(ofPath:)) }
    }

    static func zone(ofPath path: String) -> Zone? {
        let parts = path.split(separator: "/")
        guard parts.count >= 2, parts[0] == "Sources" else { return nil }
        return Zone(rawValue: String(parts[1]))
    }

    /// The targets of the manifest, read from its text: each `.target(`, `.executableTarget(`, `.testTarget(`,
    /// `.systemLibrary(` or `.plugin(` call, its name, path, the targets it names as dependencies (string
    /// literals; products of other packages are skipped) and its header search paths.
    static func targets(manifest: String) -> [Target] {
        var targets: [Target] = []
        let text = Array(manifest)
        var i = 0
        while i < text.count {
            guard let kind = [".target(", ".executableTarget(", ".testTarget(", ".systemLibrary(", ".plugin("].first(where: { starts(text, at: i, with: $0) })
            else { i += 1; continue }
            let open = i + kind.count - 1
            let close = matching(text, open: open)
            let body = String(text[(open + 1)..<close])
            targets.append(Target(name: firstString(after: "name:", in: body) ?? "", path: firstString(after: "path:", in: body),
                                  dependencies: dependencyNames(body), headerSearchPaths: strings(after: ".headerSearchPath(", in: body)))
            i = close + 1
        }
        return targets
    }

    private static func starts(_ text: [Character], at i: Int, with word: String) -> Bool {
        let w = Array(word)
        return i + w.count <= text.count && Array(text[i..<(i + w.count)]) == w
    }

    /// The index of the bracket closing the one at `open`; string literals are skipped.
    private static func matching(_ text: [Character], open: Int) -> Int {
        var depth = 0
        var inString = false
        var i = open
        while i < text.count {
            let c = text[i]
            if inString {
                if c == "\\" { i += 1 } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if "([".contains(c) {
                depth += 1
            } else if ")]".contains(c) {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return text.count - 1
    }

    private static func firstString(after key: String, in body: String) -> String? {
        strings(after: key, in: body).first
    }

    /// The string literal that follows each occurrence of `key`.
    private static func strings(after key: String, in body: String) -> [String] {
        var out: [String] = []
        var rest = Substring(body)
        while let range = rest.range(of: key) {
            rest = rest[range.upperBound...]
            guard let quote = rest.firstIndex(of: "\""), rest[..<quote].allSatisfy({ $0 == " " }) else { continue }
            let after = rest[rest.index(after: quote)...]
            guard let end = after.firstIndex(of: "\"") else { break }
            out.append(String(after[..<end]))
        }
        return out
    }

    /// The targets named in `dependencies: [...]`: its string literals, and the names of its `.target(name:)`
    /// and `.byName(name:)` entries; not the products of other packages (`.product(...)`).
    private static func dependencyNames(_ body: String) -> [String] {
        let text = Array(body)
        guard let start = body.range(of: "dependencies: [") else { return [] }
        let open = body.distance(from: body.startIndex, to: start.upperBound) - 1
        let close = matching(text, open: open)
        var names: [String] = []
        var i = open + 1
        while i < close {
            if text[i] == "(" {
                let close = matching(text, open: i)
                let call = String(text[..<i]).reversed().prefix(while: { $0 != "." }).reversed()
                if String(call) == "target" || String(call) == "byName", let name = firstString(after: "name:", in: String(text[i..<close])) {
                    names.append(name)
                }
                i = close + 1
                continue
            }
            if text[i] == "\"" {
                let end = text[(i + 1)...].firstIndex(of: "\"")!
                names.append(String(text[(i + 1)..<end]))
                i = end + 1
                continue
            }
            i += 1
        }
        return names
    }

    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Every edge of the manifest that points from a zone to a higher one (or sideways between the two user
    /// sides): "from -> to".
    static func wrongWayEdges(_ targets: [Target]) -> [String] {
        let zoneOf = Dictionary(targets.compactMap { t in t.zone.map { (t.name, $0) } }, uniquingKeysWith: { a, _ in a })
        var wrong: [String] = []
        for target in targets {
            guard let from = target.zone, let path = target.path else { continue }
            for dependency in target.dependencies {
                if let to = zoneOf[dependency], !from.mayDependOn(to) { wrong.append("\(target.name) -> \(dependency)") }
            }
            for header in target.headerSearchPaths {
                let resolved = URL(fileURLWithPath: path + "/" + header, relativeTo: URL(fileURLWithPath: "/")).standardized.path
                if let to = zone(ofPath: String(resolved.dropFirst())), !from.mayDependOn(to) {
                    wrong.append("\(target.name) -> headers in \(resolved.dropFirst())")
                }
            }
        }
        return wrong
    }

    @Test func theManifestHasNoEdgeFromALowerZoneToAHigherOne() throws {
        let manifest = try String(contentsOfFile: Self.packageRoot + "/Package.swift", encoding: .utf8)
        let targets = Self.targets(manifest: manifest)
        #expect(Set(targets.compactMap(\.zone)) == Set(Zone.allCases), "every zone holds a target")
        #expect(targets.first(where: { $0.name == "Supervisor" })?.dependencies.contains("Sandbox") == true, "the reader finds dependencies")
        #expect(targets.first(where: { $0.name == "glovebox-init" })?.headerSearchPaths.isEmpty == false, "and header search paths")
        #expect(Self.wrongWayEdges(targets) == [])
    }

    /// The reader sees the edges that must not be: those of this tree before the redesign among them.
    @Test(arguments: [
        (#".executableTarget(name: "glovebox-init", path: "Sources/InRun/glovebox-init", cSettings: [.headerSearchPath("../../Daemon/CSandbox/include")])"#,
         "glovebox-init -> headers in Sources/Daemon/CSandbox/include"),
        (#".target(name: "GloveboxClient", dependencies: ["CSandbox"], path: "Sources/Client/GloveboxClient")"#, "GloveboxClient -> CSandbox"),
        (#".target(name: "Scientist", dependencies: ["Supervisor", .product(name: "Logging", package: "swift-log")], path: "Sources/Scientist/Library")"#,
         "Scientist -> Supervisor"),
        (#".target(name: "GloveboxSystem", dependencies: ["PolicyModel2"], path: "Sources/Shared/GloveboxSystem")"#, "GloveboxSystem -> PolicyModel2"),
        (#".target(name: "Scientist", dependencies: [.target(name: "Supervisor"), .product(name: "Logging", package: "swift-log")], path: "Sources/Scientist/Library")"#,
         "Scientist -> Supervisor"),
        (#".target(name: "GloveboxClient", dependencies: [.byName(name: "CSandbox")], path: "Sources/Client/GloveboxClient")"#, "GloveboxClient -> CSandbox"),
    ])
    func aWrongWayEdgeIsNamed(target: String, edge: String) {
        let others = #"""
            .target(name: "CSandbox", path: "Sources/Daemon/CSandbox"),
            .target(name: "Supervisor", path: "Sources/Daemon/Supervisor"),
            .target(name: "PolicyModel2", path: "Sources/Client/PolicyModel2"),
            """#
        #expect(Self.wrongWayEdges(Self.targets(manifest: others + "\n" + target)) == [edge])
    }

    @Test(arguments: [
        (Zone.daemon, Zone.inRun, true), (.daemon, .shared, true), (.scientist, .client, true), (.inRun, .shared, true),
        (.inRun, .daemon, false), (.client, .daemon, false), (.scientist, .daemon, false), (.shared, .client, false),
        (.client, .scientist, false), (.daemon, .client, false), (.inRun, .client, false),
    ])
    func zonesAreOrdered(from: Zone, to: Zone, allowed: Bool) {
        #expect(from.mayDependOn(to) == allowed)
    }
}
