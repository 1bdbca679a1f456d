/// Why the sandbox could not be prepared or started. Messages name the mechanism and what to do.
public enum SandboxError: Error, CustomStringConvertible, Sendable {
    /// A kernel mechanism a policy needs is missing on this host.
    case unavailable(String)
    /// The child failed at a named step of the launch.
    case launchFailed(step: String, errno: Int32)
    /// The program was not running yet when the run's time limit passed (setup or exec hung).
    case startTimedOut
    /// Everything was set up; execve of the program itself failed (not found, not executable).
    case execFailed(program: String, errno: Int32)
    case invalid(String)

    public var description: String {
        switch self {
        case .unavailable(let what): return "unavailable on this host: \(what)"
        case .launchFailed(let step, let e): return "sandbox setup failed at '\(step)': \(String(cString: strerror(e)))"
        case .startTimedOut: return "the program had not started when the run's time limit passed"
        case .execFailed(let program, let e): return "cannot execute \(program): \(String(cString: strerror(e)))"
        case .invalid(let what): return what
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
