import Foundation

/// An idea's workspace: a copy of its template under the results directory, kept in git. Every applied edit is
/// one commit, and every run records the commit it ran. Git runs with no system or global config and no hooks,
/// so nothing in the workspace decides what git executes.
public struct IdeaWorkspace: Sendable {
    public let path: String
    public let files: WorkspaceFiles

    public init(path: String, editable: [String]) {
        self.path = path
        files = WorkspaceFiles(root: path, editable: editable)
    }

    /// `<results>/<prefix>_<idea>`: made from the template when missing, opened as it is otherwise (resume).
    public static func prepare(template: ResearchTemplate, ideaName: String, prefix: String, results: String,
                               editable: [String]) throws(ScientistError) -> (workspace: IdeaWorkspace, created: Bool) {
        let path = results + "/" + prefix + "_" + ideaName
        let workspace = IdeaWorkspace(path: path, editable: editable)
        if FileManager.default.fileExists(atPath: path + "/.git") { return (workspace, false) }
        if FileManager.default.fileExists(atPath: path) {
            throw .workspace("\(path) exists but is not a workspace (no .git); move it away or choose another --results")
        }
        do {
            try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
            let partial = results + "/." + prefix + "_" + ideaName + ".partial"
            try? FileManager.default.removeItem(atPath: partial)
            try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: false)
            try copyTemplate(from: template.directory, to: partial)
            let staging = IdeaWorkspace(path: partial, editable: editable)
            try staging.git(["init", "-q", "-b", "main"])
            try staging.git(["add", "-A"])
            try staging.git(["commit", "-q", "-m", "template \(template.name) for idea \(ideaName)"])
            try FileManager.default.moveItem(atPath: partial, toPath: path)
        } catch let error as ScientistError {
            throw error
        } catch {
            throw .workspace("cannot make the workspace \(path): \(error.localizedDescription) (\(error))")
        }
        return (workspace, true)
    }

    /// The template's files, without version-control data, caches, or runs other than the baseline run_0. The
    /// copies belong to the user (a template is often root's, under /usr/share or a checkout), with the
    /// template's permission bits; symbolic links are copied as links, which edits never follow.
    static func copyTemplate(from source: String, to destination: String) throws {
        for entry in try FileManager.default.contentsOfDirectory(atPath: source).sorted() {
            if entry == ".git" || entry == "__pycache__" { continue }
            if entry.hasPrefix("run_"), entry != "run_0" { continue }
            try copy(source + "/" + entry, to: destination + "/" + entry)
        }
    }

    private static func copy(_ source: String, to destination: String) throws {
        var st = stat()
        guard lstat(source, &st) == 0 else { throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: source]) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: Int(st.st_mode & 0o755 | 0o700)])
            for entry in try FileManager.default.contentsOfDirectory(atPath: source).sorted() where entry != "__pycache__" {
                try copy(source + "/" + entry, to: destination + "/" + entry)
            }
        case S_IFLNK:
            try FileManager.default.createSymbolicLink(atPath: destination, withDestinationPath: FileManager.default.destinationOfSymbolicLink(atPath: source))
        case S_IFREG:
            guard let data = FileManager.default.contents(atPath: source) else {
                throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: source])
            }
            guard FileManager.default.createFile(atPath: destination, contents: data,
                                                 attributes: [.posixPermissions: Int(st.st_mode & 0o755 | 0o600)]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: destination])
            }
        default:
            break  // sockets, FIFOs and devices have no place in a template
        }
    }

    /// Commits `paths` (those the edit changed) and returns the new commit; HEAD when nothing changed.
    public func commit(_ paths: [String], message: String) throws(ScientistError) -> String {
        try git(["add", "--"] + paths)
        let staged = try git(["diff", "--cached", "--name-only"])
        if !staged.isEmpty { try git(["commit", "-q", "-m", message]) }
        return try head()
    }

    public func head() throws(ScientistError) -> String {
        try git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Files changed since the last commit, other than runs' outputs (an interrupted edit, on resume).
    public func uncommitted() throws(ScientistError) -> [String] {
        try git(["status", "--porcelain", "--untracked-files=no"]).split(separator: "\n").map { String($0.dropFirst(3)) }
    }

    @discardableResult
    func git(_ arguments: [String]) throws(ScientistError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.gitPath)
        // In the workspace: the caller's own directory may not be searchable by this user (Process changes into
        // it before executing, and fails with EACCES).
        process.currentDirectoryURL = URL(fileURLWithPath: path)
        process.arguments = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "core.fsmonitor=false",
                             "-C", path] + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GIT_") }
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
        environment["GIT_AUTHOR_NAME"] = "scientist"
        environment["GIT_AUTHOR_EMAIL"] = "scientist@localhost"
        environment["GIT_COMMITTER_NAME"] = "scientist"
        environment["GIT_COMMITTER_EMAIL"] = "scientist@localhost"
        environment["LC_ALL"] = "C"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .workspace("cannot run \(Self.gitPath): \(error.localizedDescription) (install git)") }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .workspace("git \(arguments.first ?? "") in \(path) failed: \(String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return String(decoding: output, as: UTF8.self)
    }

    static var gitPath: String {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: directory + "/git") {
            return directory + "/git"
        }
        return "/usr/bin/git"
    }
}
