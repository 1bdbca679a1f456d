import Foundation
import Logging
import Synchronization
import XCTest
@testable import Scientist

/// Records the waits a `RetryPolicy` asks for instead of sleeping, so retry tests take no time.
final class SleepRecorder: Sendable {
    private let waits = Mutex<[Duration]>([])
    var recorded: [Duration] { waits.withLock { $0 } }

    func policy(maxAttempts: Int = 4, maxRetryAfter: Duration = .seconds(300)) -> RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(100), maxDelay: .seconds(2),
                    maxRetryAfter: maxRetryAfter, sleep: { [self] wait in self.waits.withLock { $0.append(wait) } })
    }
}

/// A log handler that keeps every message and its metadata, to check what the library logs.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func logger() -> Logger {
        var logger = Logger(label: "test") { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
        }
    }
}

/// A fresh temporary directory, removed by `remove()` (call it from tearDown).
struct TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }
}

func ignoreSIGPIPE() {
    signal(SIGPIPE, SIG_IGN)
}

func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// The error `body` throws, as type `E`; fails the test when it throws nothing or something else.
func expectError<E: Error, T>(_ expected: E.Type, file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> T) -> E? {
    do {
        _ = try body()
        XCTFail("expected \(E.self), nothing was thrown", file: file, line: line)
    } catch let error as E {
        return error
    } catch {
        XCTFail("expected \(E.self), got \(Swift.type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}
