import Digests
import Foundation
import GloveboxSystem

/// A paper's text, for the reviewer, and its first page, for the report: `pdftotext` and `pdftoppm` on the PDF
/// through gloveboxd under the `poppler` policy.
/// A PDF is untrusted input (it came out of model-written LaTeX, or from anyone), so the scientist never parses
/// one itself; only the text comes back. A `.txt` or `.md` file is read as it is.
public struct PaperText: Sendable {
    public let runner: any ExperimentRunner
    public static let defaultPolicy = "poppler"
    /// PDFs larger than this are refused before anything runs.
    public static let sizeLimit = 64 << 20

    public init(runner: any ExperimentRunner) { self.runner = runner }

    public struct Extracted: Sendable, Equatable {
        public var text: String
        /// The SHA-256 of the file read.
        public var sha256: String
        /// gloveboxd's run id of the extraction (nil for a text file).
        public var runID: Int64?
    }

    public func extract(_ path: String, label: String) throws(ScientistError) -> Extracted {
        let data = try Self.readPlain(path)
        let digest = sha256Hex(Array(data))
        let lower = path.lowercased()
        if lower.hasSuffix(".txt") || lower.hasSuffix(".md") {
            return Extracted(text: String(decoding: data, as: UTF8.self), sha256: digest, runID: nil)
        }
        guard data.starts(with: Array("%PDF-".utf8)) else { throw .workspace("\(path) is not a PDF (nor a .txt or .md text)") }
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do { try data.write(to: URL(fileURLWithPath: scratch + "/paper.pdf")) }
        catch { throw .workspace("cannot copy \(path) for pdftotext: \(error.localizedDescription)") }
        let run = try runner.run(argv: ["/usr/bin/pdftotext", "-enc", "UTF-8", "-nopgbrk", "paper.pdf", "paper.txt"], workdir: scratch,
                                 outputs: ["paper.txt"], label: label)
        guard run.status == "ok", let text = FileManager.default.contents(atPath: scratch + "/paper.txt") else {
            if run.status == "cancelled" { throw .interrupted }
            throw .run("pdftotext could not read \(path): \(RunFailureReport.describe(run, number: 0)) \(run.stderrTail.suffix(300))")
        }
        return Extracted(text: String(decoding: text, as: UTF8.self), sha256: digest, runID: run.runID)
    }

    /// The PDF's first page as a PNG, `dpi` dots per inch, drawn by pdftoppm through gloveboxd.
    public func firstPage(_ path: String, dpi: Int = 40, label: String) throws(ScientistError) -> Data {
        let data = try Self.readPlain(path)
        guard data.starts(with: Array("%PDF-".utf8)) else { throw .workspace("\(path) is not a PDF") }
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do { try data.write(to: URL(fileURLWithPath: scratch + "/paper.pdf")) }
        catch { throw .workspace("cannot copy \(path) for pdftoppm: \(error.localizedDescription)") }
        let run = try runner.run(argv: ["/usr/bin/pdftoppm", "-png", "-r", "\(dpi)", "-f", "1", "-l", "1", "-singlefile", "paper.pdf", "page"],
                                 workdir: scratch, outputs: ["page.png"], label: label)
        guard run.status == "ok", let image = FileManager.default.contents(atPath: scratch + "/page.png"),
              image.starts(with: [0x89, 0x50, 0x4E, 0x47]) else {
            if run.status == "cancelled" { throw .interrupted }
            throw .run("pdftoppm could not draw \(path): \(RunFailureReport.describe(run, number: 0)) \(run.stderrTail.suffix(300))")
        }
        return image
    }

    /// A regular file's bytes, never through a symbolic link, at most `sizeLimit`: opened without following
    /// one (nor waiting on a FIFO) and checked on the open descriptor, so nothing can be swapped in between.
    static func readPlain(_ path: String) throws(ScientistError) -> Data {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP { throw .workspace("\(path) is not a regular file") }
            throw .workspace("\(path): \(String(cString: strerror(errno)))")
        }
        let file = FileDescriptor(fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .workspace("\(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .workspace("\(path) is not a regular file") }
        guard st.st_size <= sizeLimit else { throw .workspace("\(path) is larger than \(sizeLimit >> 20) MiB") }
        do { return Data(try file.readToEnd(limit: sizeLimit + 1)) } catch { throw .workspace("cannot read \(path): \(error)") }
    }

    /// A private directory for one extraction, removed after it.
    static func scratchDirectory() throws(ScientistError) -> String {
        let base = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
        var template = Array((base + "/scientist-pdf.XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw .workspace("mkdtemp: \(String(cString: strerror(errno)))") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
