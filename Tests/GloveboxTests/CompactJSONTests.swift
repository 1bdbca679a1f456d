import Foundation
import GloveboxClient
import GloveboxProtocol
import Policy
import Records
import XCTest
@testable import GloveboxTestSupport

/// The client's per-run messages skip Codable (GloveboxClient/CompactJSON.swift). These check them against Codable: a request
/// written by hand decodes on the daemon's side to the same request, every field included; a summary read by
/// hand agrees with the record Codable reads; and the reader takes exactly JSON.
final class CompactJSONTests: XCTestCase {
    static let oddStrings = [
        "", "plain", "with \"quotes\" and \\backslashes\\", "a/b//c", "tab\there\nnewline\r\u{0}nul\u{1}\u{1f}\u{7f}",
        "é ü ß 日本語", "👩‍🔬 🧪", "e\u{301}", "\u{2028}\u{2029}", String(repeating: "x", count: 5000),
    ]

    static func requests() -> [RunRequest] {
        var list = [RunRequest(template: "default", argv: ["/bin/true"])]
        for s in oddStrings {
            list.append(RunRequest(template: s, argv: [s, "--", s], environment: [s.isEmpty ? "E" : "K\(s.count)": s, "PATH": "/usr/bin"],
                                   outputs: [s, "results/\(s)"], hasWorkdir: true))
        }
        for (timeout, cpus) in [(0.1, 0.5), (1e-7, 1e-3), (1e300, 2), (12345.678, 0.333333333333), (3600, 64)] {
            list.append(RunRequest(template: "python", argv: ["python3", "-c", "pass"],
                                   limits: LimitRequest(timeoutSeconds: timeout, memoryBytes: UInt64.max, pids: Int.max, cpus: cpus,
                                                        storageBytes: 1, gpus: 0)))
        }
        list.append(RunRequest(template: "t", argv: [], limits: LimitRequest(memoryBytes: 256 << 20)))
        list.append(RunRequest(template: "t", argv: ["x"], limits: LimitRequest(timeoutSeconds: .infinity)))
        return list
    }

    func testAHandWrittenRequestDecodesOnTheDaemonsSideToTheSameRequest() throws {
        for request in Self.requests() {
            let decoded = try Wire.decode(RunRequest.self, Frame(.runRequest, request.wireJSON))
            XCTAssertEqual(decoded, request, String(decoding: request.wireJSON, as: UTF8.self).prefix(300).description)
        }
    }

    /// A field added to RunRequest or LimitRequest that the hand-written encoder leaves out fails here.
    func testEveryFieldOfTheRequestIsWritten() throws {
        let limits = LimitRequest(timeoutSeconds: 1, memoryBytes: 2, pids: 3, cpus: 4, storageBytes: 5, gpus: 6)
        let limitFields = Mirror(reflecting: limits).children.compactMap(\.label)
        for child in Mirror(reflecting: limits).children {
            XCTAssertFalse("\(child.value)" == "nil", "this test's LimitRequest must set \(child.label ?? "?")")
        }
        let request = RunRequest(template: "t", argv: ["a"], environment: ["K": "V"], limits: limits, outputs: ["o"], hasWorkdir: true)
        let json = try JSONValue.parse(request.wireJSON)
        guard case .object(let members) = json, case .object(let limitMembers)? = json["limits"] else { return XCTFail("\(json)") }
        XCTAssertEqual(Set(members.map(\.key)), Set(Mirror(reflecting: request).children.compactMap(\.label)))
        XCTAssertEqual(Set(limitMembers.map(\.key)), Set(limitFields))
    }

    static func records() -> [RunRecord] {
        var list: [RunRecord] = []
        for (i, status) in RunStatus.allCases.enumerated() {
            list.append(RunRecord(id: Int64(i), template: "default", policyDigest: "d", clientUID: 1000, clientPID: 42, argv: ["x"],
                                  startedAt: 1.5, status: status))
        }
        for s in oddStrings {
            list.append(RunRecord(id: Int64.max, template: s, policyDigest: s, clientUID: .max, clientPID: .max, argv: [s],
                                  startedAt: 1e9, endedAt: 1e9 + 1, wallSeconds: .nan, userCPUSeconds: .infinity, systemCPUSeconds: 0,
                                  peakMemoryBytes: .max, exitCode: -1, signal: 9, status: .signaled, limitsHit: LimitHit.allCases,
                                  message: s, limits: ["memory_bytes": 1e12, "cpus": 0.5], sandboxUID: 1, kernel: s))
        }
        list.append(RunRecord(id: 7, template: "t", policyDigest: "", clientUID: 0, clientPID: 0, argv: [], startedAt: 0,
                              exitCode: Int32.min, status: .exitedNonzero))
        return list
    }

    func testTheSummaryAgreesWithTheRecordCodableReads() throws {
        for record in Self.records() {
            let frame = Wire.encode(.finished, record)
            let decoded = try Wire.decode(RunRecord.self, frame)
            XCTAssertEqual(try RunSummary(recordJSON: frame.payload), RunSummary(decoded))
            XCTAssertEqual(RunSummary(decoded), RunSummary(record))
        }
    }

    func testASummaryOfAMalformedRecordIsAnError() {
        for bad in [#"[]"#, #"{}"#, #"{"status":"finished"}"#, #"{"status":1}"#, #"{"status":"ok","exit_code":"1"}"#,
                    #"{"status":"ok","exit_code":1.5}"#, #"{"status":"ok","exit_code":4294967296}"#, #"{"status":"ok","message":3}"#,
                    #"{"status":"ok","id":-}"#] {
            XCTAssertThrowsError(try RunSummary(recordJSON: Array(bad.utf8)), bad)
        }
        XCTAssertEqual(try RunSummary(recordJSON: Array(#"{"status":"ok","id":null,"message":null}"#.utf8)), RunSummary(id: 0, status: .ok))
    }

    /// Valid documents read the same as Foundation's JSONSerialization reads them.
    func testTheReaderAgreesWithJSONSerialization() throws {
        let documents = [
            #"{}"#, #"[]"#, #" { "a" : [ 1 , -2.5e-3 , 0 , 1E+2 , true , false , null ] } "#, #""\u00e9\ud83e\uddea\n\t\/""#,
            #"[[[[[]]]]]"#, #"{"nested":{"k":"v","n":{"x":[{}]}}}"#, #"-0"#, #"123456789012345678"#, "\"é 日本\"",
        ]
        func same(_ v: JSONValue, _ f: Any) -> Bool {
            switch v {
            case .null: return f is NSNull
            case .bool(let b): return (f as? Bool) == b
            case .number(let text): return (f as? NSNumber).map { Double(text) == $0.doubleValue } ?? false
            case .string(let s): return f as? String == s
            case .array(let a):
                guard let fa = f as? [Any], fa.count == a.count else { return false }
                return zip(a, fa).allSatisfy { same($0, $1) }
            case .object(let o):
                guard let fo = f as? [String: Any], fo.count == o.count else { return false }
                return o.allSatisfy { m in fo[m.key].map { same(m.value, $0) } ?? false }
            }
        }
        for d in documents {
            let mine = try JSONValue.parse(Array(d.utf8))
            let theirs = try JSONSerialization.jsonObject(with: Data(d.utf8), options: [.fragmentsAllowed])
            XCTAssertTrue(same(mine, theirs), "\(d): \(mine) vs \(theirs)")
        }
        XCTAssertEqual(try JSONValue.parse(Array(#"123456789012345678"#.utf8)).integer(Int64.self), 123_456_789_012_345_678, "integers are exact")
    }

    func testTheReaderRejectsWhatIsNotJSON() {
        let bad: [[UInt8]] = [
            [], Array(" ".utf8), Array("{".utf8), Array("[1,]".utf8), Array(#"{"a":1,}"#.utf8), Array("01".utf8), Array("1.".utf8),
            Array(".5".utf8), Array("1e".utf8), Array("+1".utf8), Array("tru".utf8), Array("nul".utf8), Array(#""abc"#.utf8),
            Array(#""\x""#.utf8), Array(#""\u12""#.utf8), Array(#""\ud800""#.utf8), Array(#""\udc00""#.utf8), Array(#""\ud800\u0041""#.utf8),
            Array("\"a\u{1}b\"".utf8), Array("\"\n\"".utf8), [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], Array("{} x".utf8), Array("[1 2]".utf8),
            Array(#"{"a" 1}"#.utf8), Array(#"{1:2}"#.utf8), Array(#"{"a":1,"a":2}"#.utf8), Array("NaN".utf8), Array("Infinity".utf8),
            Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8),
        ]
        for b in bad {
            XCTAssertThrowsError(try JSONValue.parse(b), String(decoding: b, as: UTF8.self).prefix(40).description) { error in
                guard case ProtocolError.malformed(let why)? = error as? ProtocolError else { return XCTFail("\(error)") }
                XCTAssertTrue(why.contains("at byte"), why)
            }
        }
        XCTAssertNoThrow(try JSONValue.parse(Array(String(repeating: "[", count: 64).utf8) + Array(String(repeating: "]", count: 64).utf8)))
    }

    /// An object's members keep their order; a name twice is refused wherever it is, in big objects too.
    func testObjectMembersKeepTheirOrderAndNamesAreUnique() throws {
        let names = (0..<5000).map { "m\($0)" }
        let object = "{" + names.map { "\"\($0)\":1" }.joined(separator: ",") + "}"
        guard case .object(let members) = try JSONValue.parse(Array(object.utf8)) else { return XCTFail("not an object") }
        XCTAssertEqual(members.map(\.key), names)
        XCTAssertEqual(try JSONValue.parse(Array(object.utf8))["m4999"], .number("1"))
        let twice = "{" + names.map { "\"\($0)\":1" }.joined(separator: ",") + ",\"m17\":2}"
        XCTAssertThrowsError(try JSONValue.parse(Array(twice.utf8))) { error in
            XCTAssertTrue("\(error)".contains("duplicate member \"m17\""), "\(error)")
        }
    }

    /// Random damage to valid documents is read or refused, never a crash.
    func testDamagedDocumentsNeverCrashTheReader() {
        var rng = SystemRandomNumberGenerator()
        let seeds = Self.requests().map(\.wireJSON) + Self.records().map { Wire.encode(.finished, $0).payload }
        var read = 0, refused = 0
        for _ in 0..<5_000 {
            var doc = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !doc.isEmpty {
                let i = Int.random(in: 0..<doc.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: doc[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: doc.remove(at: i)
                default: doc.insert(Array("{}[]\",:\\u0".utf8).randomElement(using: &rng)!, at: i)
                }
            }
            if (try? JSONValue.parse(doc)) != nil { read += 1 } else { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 0)
        XCTAssertEqual(read + refused, 5_000)
    }
}
