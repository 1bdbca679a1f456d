import Policy
import Testing
@testable import TOMLSupport

/// What the TOML parser under TOMLKit must not be given, refused first with its line. The first and the third
/// cases are what the in-process fuzzer (fuzz/PolicyFiles) found, each of which aborted gloveboxd
/// --check-policy; the others are the same faults in other forms.
struct TOMLPrecheckTests {
    @Test(arguments: [
        ("description = \"x\"\n[\nimits]\ntimeout = \"1m\"\n", 2, "a table header needs its name on the line of its '['"),
        ("a = [1,\u{0B}2]\n", 1, "control character U+000B is not allowed in TOML (only tabs and line breaks are)"),
        ("[access]\nusers = [\"*\"]\ngroups = [}\n", 3, "'}' closes a '['"),
        ("t = { a = [1, 2} }\n", 1, "'}' closes a '['"),
        ("[[\n  runs]]\n", 1, "a table header needs its name on the line of its '['"),
        ("[ # a comment\nlimits]\n", 1, "a table header needs its name on the line of its '['"),
        ("a = [1,\u{2028}2]\n", 1, "U+2028 (line separator) is only allowed inside a string or a comment"),
        ("a = [1,\u{85}2]\n", 1, "U+0085 (next line) is only allowed inside a string or a comment"),
        ("a = [1,\u{2029}2]\n", 1, "U+2029 (paragraph separator) is only allowed inside a string or a comment"),
        ("\n\na = 1\u{0C}\n", 3, "control character U+000C is not allowed in TOML (only tabs and line breaks are)"),
        ("a = \"x\u{7F}\"\n", 1, "control character U+007F is not allowed in TOML (only tabs and line breaks are)"),
        ("a = 1\rb = 2\n", 1, "control character U+000D is not allowed in TOML (only tabs and line breaks are)"),
    ])
    func whatTheParserMustNotSeeIsRefusedWithItsLine(text: String, line: Int, message: String) throws {
        let problem = try #require(TOMLPrecheck.problem(Array(text.utf8)))
        #expect(problem.line == line)
        #expect(problem.message == message)
    }

    @Test(arguments: [
        "[limits]\ntimeout = \"1m\"\n",
        "[ limits ]\n[[runs]]\n[\"quoted\"]\n['literal']\n",
        "matrix = [\n  [\n    1, 2],\n  [3, 4],\n]\n",                       // a nested array's '[' at a line's start
        "s = \"[\\n not a header\"\nm = \"\"\"\n[\nstill text\n\"\"\"\n",       // brackets and breaks in strings
        "q = \"\"\"a\"\"\"\"\n[after]\nx = 1\n",                                // a multi-line string ending in quotes
        "t = { a = [1, 2] }\n[next]\n",
        "t = [ \"x\\\" }\" ]\n",                                              // an escaped quote does not end the string
        "note = \"line\u{2028}separator in a string\"  # and \u{2029} in a comment\n",
        "a = 1\r\nb = 2\r\n",
        "# [\n# comment\n",
    ])
    func validTOMLPasses(text: String) {
        #expect(TOMLPrecheck.problem(Array(text.utf8)) == nil)
    }

    @Test func aPolicyThatOnceAbortedTheDaemonIsAnErrorNamingItsLine() throws {
        let text = "[limits]\ntimeout = \"10m\"\nmemory = \"1GiB\"\npids = 64\ncpus = 1\nstorage = \"512MiB\"\n[\nfilesystem]\n"
        do {
            _ = try Policy.parse(text, template: "t", source: "policies/t.toml")
            Issue.record("parsed")
        } catch {
            #expect(error.description == "policies/t.toml:7: a table header needs its name on the line of its '['")
        }
    }
}
