/// Durations as people write them.
///
/// `parse` accepts a non-negative number (integer or decimal) with an optional unit, spaces allowed between:
/// "ms", "s", "m" or "min", "h", "d"; no unit means seconds ("500ms", "90s", "10m", "1.5h", "3600").
/// Returns seconds, or nil when invalid.
public enum DurationText {
    public static func parse(_ s: String) -> Double? {
        let text = s.trimmingSpaces()
        var numberEnd = text.startIndex
        var sawDigit = false
        var sawDot = false
        while numberEnd < text.endIndex {
            let c = text[numberEnd]
            if c.isASCII, c.isNumber { sawDigit = true } else if c == ".", !sawDot { sawDot = true } else { break }
            numberEnd = text.index(after: numberEnd)
        }
        let number = text[..<numberEnd]
        guard sawDigit, number.last != ".", number.first != ".", let value = Double(number) else { return nil }
        let factor: Double
        switch text[numberEnd...].trimmingSpaces().lowercased() {
        case "", "s": factor = 1
        case "ms": factor = 0.001
        case "m", "min": factor = 60
        case "h": factor = 3600
        case "d": factor = 86_400
        default: return nil
        }
        let seconds = value * factor
        return seconds.isFinite ? seconds : nil
    }

    /// A compact form that `parse` reads back: "500ms", "90s", "10m", "2h", "1d", "1.5s".
    /// Whole seconds use the largest unit that divides them exactly (5400 -> "90m").
    public static func format(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "\(seconds)" }  // "nan", "inf", "-inf"
        if seconds < 0 { return "-" + format(-seconds) }
        if seconds == 0 { return "0s" }
        if seconds < 1 {
            let ms = seconds * 1000
            return ms == ms.rounded() ? "\(Int64(ms))ms" : "\(ms)ms"
        }
        guard seconds == seconds.rounded(), seconds < 1e15 else { return "\(seconds)s" }
        let n = Int64(seconds)
        if n % 86_400 == 0 { return "\(n / 86_400)d" }
        if n % 3600 == 0 { return "\(n / 3600)h" }
        if n % 60 == 0 { return "\(n / 60)m" }
        return "\(n)s"
    }
}

fileprivate extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}
