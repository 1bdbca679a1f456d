import Policy

/// libFuzzer's entry (fuzz/run.sh policy-files): the bytes as a policy file and as gloveboxd.toml. Whatever
/// they hold, parsing ends in a Policy or a PolicyError that names a file and a line; it never traps, hangs
/// or runs out of memory. libFuzzer reports anything else, with the input that did it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicyFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let policy = try Policy.parse(text, template: "fuzz", source: "policies/fuzz.toml")
        precondition(policy.template == "fuzz" && !policy.digest.isEmpty, "a parsed policy keeps its name and digest")
    } catch {
        precondition(error.file == "policies/fuzz.toml", "an error names the file it is about")
    }
    do {
        _ = try DaemonConfig.parse(text, source: "gloveboxd.toml")
    } catch {
        precondition(error.file == "gloveboxd.toml", "an error names the file it is about")
    }
    return 0
}
