import CCurl

/// HTTP-date parsing (RFC 9110: IMF-fixdate, and the obsolete RFC 850 and asctime forms), done by libcurl.
enum HTTPDate {
    /// Seconds since the epoch, or nil when `text` is not a date libcurl understands.
    static func parse(_ text: String) -> Double? {
        guard !text.isEmpty else { return nil }
        let time = curl_getdate(text, nil)
        return time < 0 ? nil : Double(time)
    }
}
