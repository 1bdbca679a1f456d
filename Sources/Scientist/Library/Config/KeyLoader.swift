import Foundation

/// Finds an API key: first the named environment variable, else the key file. A key file must be a regular
/// file (not a symbolic link) owned by the user running the scientist and readable by nobody else (mode 0600
/// or 0400); anything else is refused with the file's name and mode, since a key others can read is leaked.
public enum KeyLoader {
    public static func load(environmentVariable: String?, file: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> APIKey? {
        if let name = environmentVariable, let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines),
           !value.isEmpty {
            return APIKey(value: value, origin: "environment variable \(name)")
        }
        guard let file else { return nil }
        return try read(file: file)
    }

    static func read(file: String) throws(ConfigError) -> APIKey {
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "is a symbolic link; name the file itself" : String(cString: strerror(errno))
            throw ConfigError(file: file, "cannot read API key file: \(reason)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ConfigError(file: file, "cannot stat API key file: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw ConfigError(file: file, "API key file is not a regular file") }
        guard info.st_uid == geteuid() else {
            throw ConfigError(file: file, "API key file is owned by uid \(info.st_uid), not by the user running scientist (uid \(geteuid()))")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw ConfigError(file: file, "API key file has mode \(String(format: "%04o", mode)): it must not be readable by group or others (chmod 600 \(file))")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 65536 {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ConfigError(file: file, "cannot read API key file: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        let value = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw ConfigError(file: file, "API key file is empty") }
        guard !value.contains(where: \.isNewline), bytes.count <= 65536 else {
            throw ConfigError(file: file, "API key file must hold the key alone, on one line")
        }
        return APIKey(value: value, origin: "file \(file)")
    }
}
