import Digests
import Foundation
import GloveboxSystem
import Synchronization

/// The replies a launch already paid for, by the idea they were for and the digest of their request, for
/// `scientist launch --resume`: a request made again for the same idea (the same provider, model, system
/// prompt, conversation, limits and schema) gets the reply it got before, in the order they came, without a
/// call. Each reply is used once, so a stage that asked the same thing twice (an ensemble's reviews) gets its
/// two replies, and two ideas that happen to ask the same thing (their plot.py unchanged) keep their own.
public final class ReplayCache: Sendable {
    private let queues: Mutex<[String: [(callID: Int64, reply: String)]]>

    public init(replies: [(callID: Int64, ideaID: Int64?, requestSHA256: String, reply: String)]) {
        var queues: [String: [(callID: Int64, reply: String)]] = [:]
        for entry in replies { queues[Self.key(entry.ideaID, entry.requestSHA256), default: []].append((entry.callID, entry.reply)) }
        self.queues = Mutex(queues)
    }

    static func key(_ ideaID: Int64?, _ digest: String) -> String { "\(ideaID.map(String.init) ?? "-") \(digest)" }

    /// The next unused reply to a request with this digest, for this idea.
    public func take(_ digest: String, ideaID: Int64?) -> (callID: Int64, reply: String)? {
        let digest = Self.key(ideaID, digest)
        return queues.withLock { queues in
            guard var queue = queues[digest], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            queues[digest] = queue
            return first
        }
    }
}

extension ChatRequest {
    /// The SHA-256 of everything that makes the request what it is, for the replay cache.
    public func digest(provider: String, model: String) -> String {
        var parts = [provider, model, system, String(maxTokens), String(temperature), schema?.name ?? "", schema?.json ?? ""]
        for message in messages { parts += [message.role.rawValue, message.content] }
        let joined = parts.map { "\($0.utf8.count):\($0)" }.joined()
        return sha256Hex(Array(joined.utf8))
    }
}
