import Foundation

/// A reply type the model must produce as JSON: decoded strictly (every field present with its exact type),
/// then checked by `validationProblems()` (ranges, non-empty text).
public protocol ValidatedReply: Decodable, Sendable {
    /// What is wrong with the decoded value, in words the model can act on; empty when valid.
    func validationProblems() -> [String]
    /// The schema sent where the provider supports structured output; nil for none.
    static var replySchema: ReplySchema? { get }
}

extension ValidatedReply {
    public func validationProblems() -> [String] { [] }
    public static var replySchema: ReplySchema? { nil }
}

/// Getting JSON out of a model's text: the one ```json fenced block (the AI Scientist's convention), or, when
/// there is no fence, the span from the first "{" to the last "}".
public enum JSONReply {
    /// The JSON text in `reply`, or a problem description.
    public static func extract(_ reply: String) -> Result<String, ReplyProblem> {
        let fenced = fencedBlocks(reply)
        if fenced.count > 1 { return .failure(ReplyProblem("the reply has \(fenced.count) ```json blocks; exactly one is expected")) }
        if let block = fenced.first { return .success(block) }
        guard let start = reply.firstIndex(of: "{"), let end = reply.lastIndex(of: "}"), start < end else {
            return .failure(ReplyProblem("the reply contains no JSON object (expected one ```json fenced block)"))
        }
        return .success(String(reply[start...end]))
    }

    /// `T` decoded from `reply`, or what is wrong with it.
    public static func decode<T: ValidatedReply>(_ type: T.Type, from reply: String) -> Result<T, ReplyProblem> {
        let json: String
        switch extract(reply) {
        case let .success(text): json = text
        case let .failure(problem): return .failure(problem)
        }
        let value: T
        do {
            value = try JSONDecoder().decode(T.self, from: Data(json.utf8))
        } catch {
            return .failure(ReplyProblem("the JSON could not be read: \(ProviderHTTP.describe(error))"))
        }
        let problems = value.validationProblems()
        guard problems.isEmpty else { return .failure(ReplyProblem(problems.joined(separator: "; "))) }
        return .success(value)
    }

    static func fencedBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "```json") {
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "```") else { break }
            blocks.append(afterOpen[..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines))
            rest = afterOpen[close.upperBound...]
        }
        return blocks
    }

    /// The follow-up prompt sent once after an unusable reply.
    static func repairPrompt(_ problem: ReplyProblem) -> String {
        """
        Your previous reply could not be used: \(problem.message).
        Reply again with the same content, corrected, and with the JSON as exactly one block in this form:
        ```json
        <JSON>
        ```
        """
    }
}

/// What is wrong with a reply's JSON, phrased for both the user and the model.
public struct ReplyProblem: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

extension MeteredModel {
    /// One structured exchange: sends `messages`, decodes a `T`; on an unusable reply, sends one repair prompt
    /// quoting the problem; a second unusable reply fails the step with `.reply`. Returns the value, the
    /// conversation including the accepted reply, and the ids of the calls made.
    public func ask<T: ValidatedReply>(_ type: T.Type, system: String, messages: [ChatMessage], stage: String,
                                       ideaID: Int64? = nil) throws(ScientistError) -> (value: T, text: String, messages: [ChatMessage], callIDs: [Int64]) {
        var conversation = messages
        var callIDs: [Int64] = []
        var lastProblem = ReplyProblem("")
        for attempt in 0..<2 {
            let (reply, id) = try chat(system: system, messages: conversation, stage: stage, ideaID: ideaID, schema: T.replySchema)
            callIDs.append(id)
            conversation.append(ChatMessage(.assistant, reply.text))
            switch JSONReply.decode(T.self, from: reply.text) {
            case let .success(value):
                return (value, reply.text, conversation, callIDs)
            case let .failure(problem):
                lastProblem = problem
                logger.warning("unusable model reply", metadata: ["stage": "\(stage)", "attempt": "\(attempt + 1)",
                                                                  "problem": "\(problem.message)"])
                conversation.append(ChatMessage(.user, JSONReply.repairPrompt(problem)))
            }
        }
        throw .reply(stage: stage, problem: lastProblem.message)
    }
}
