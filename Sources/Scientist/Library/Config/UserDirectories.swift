import Foundation

/// Where a user's scientist files live, as the XDG base directory spec says: $XDG_CONFIG_HOME and
/// $XDG_DATA_HOME when set to absolute paths, else ~/.config and ~/.local/share, with ~ read from $HOME first
/// (Foundation's NSHomeDirectory asks the password database, which for a service account such as nobody
/// names a directory that does not exist).
public enum UserDirectories {
    public static var home: String {
        if let home = ProcessInfo.processInfo.environment["HOME"], home.hasPrefix("/") { return home }
        return NSHomeDirectory()
    }

    /// ~/.config, or $XDG_CONFIG_HOME.
    public static var config: String { xdg("XDG_CONFIG_HOME") ?? home + "/.config" }

    /// ~/.local/share, or $XDG_DATA_HOME.
    public static var data: String { xdg("XDG_DATA_HOME") ?? home + "/.local/share" }

    private static func xdg(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.hasPrefix("/") ? $0 : nil }
    }
}
