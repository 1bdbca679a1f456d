import Foundation
import SQLiteSupport

extension ScientistStore {
    /// Keeps a live call's reply, so a resumed launch can replay it instead of paying for it again.
    public func recordReply(callID: Int64, requestSHA256: String, reply: String) throws(SQLiteError) {
        try write("record a reply", "INSERT OR REPLACE INTO call_replies (call_id, request_sha256, reply) VALUES (?1, ?2, ?3)") { (s) throws(SQLiteError) in
            try s.bind(1, callID)
            try s.bind(2, requestSHA256)
            try s.bind(3, reply)
        }
    }

    /// The replies of a launch's live calls, oldest first: (call id, the idea it was for, request digest, reply).
    public func replies(launchID: Int64) throws(SQLiteError) -> [(callID: Int64, ideaID: Int64?, requestSHA256: String, reply: String)] {
        try read("read replies", """
            SELECT r.call_id, c.idea_id, r.request_sha256, r.reply FROM call_replies r JOIN llm_calls c ON c.id = r.call_id
            WHERE c.launch_id = ?1 ORDER BY r.call_id
            """, bind: { (s) throws(SQLiteError) in try s.bind(1, launchID) }) { s in (s.int64(0), s.optionalInt64(1), s.string(2), s.string(3)) }
    }

    public func saveLaunchPlan(launchID: Int64, plan: String) throws(SQLiteError) {
        try write("save the launch's plan", "INSERT OR REPLACE INTO launch_plans (launch_id, plan) VALUES (?1, ?2)") { (s) throws(SQLiteError) in
            try s.bind(1, launchID)
            try s.bind(2, plan)
        }
    }

    public func launchPlan(launchID: Int64) throws(SQLiteError) -> String? {
        try read("read the launch's plan", "SELECT plan FROM launch_plans WHERE launch_id = ?1",
                 bind: { (s) throws(SQLiteError) in try s.bind(1, launchID) }) { s in s.string(0) }.first
    }

    /// Marks a launch running again, for `launch --resume`.
    public func reopenLaunch(_ id: Int64) throws(SQLiteError) {
        try write("reopen the launch", "UPDATE launches SET status = 'running', finished_at = NULL, message = NULL WHERE id = ?1") { (s) throws(SQLiteError) in
            try s.bind(1, id)
        }
    }
}
