/// Byte sizes as people write them.
///
/// `parse` accepts a non-negative number (integer or decimal) and an optional unit, with optional spaces
/// between: no unit or "B" = bytes; "k", "M", "G", "T", "P", "E" and "KiB" ... "EiB" = powers of 1024;
/// "KB", "MB", "GB", "TB", "PB", "EB" = powers of 1000. Units are case-insensitive ("64k", "1g", "2 GiB").
/// The result must be a whole number of bytes that fits in a UInt64; anything else gives nil.
public enum ByteSize {
    private static let binaryUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]

    /// "123 B", "512 MiB", "2 GiB", "1.5 GiB" (at most two decimals, rounded).
    public static func format(_ n: UInt64) -> String {
        var exponent = 0
        while exponent < 6, n >= UInt64(1) << (10 * UInt64(exponent + 1)) { exponent += 1 }
        let unit = UInt64(1) << (10 * UInt64(exponent))
        if n % unit == 0 { return "\(n / unit) \(binaryUnits[exponent])" }
        let hundredths = (Double(n) / Double(unit) * 100).rounded()
        var text = String(UInt64(hundredths) / 100)
        var fraction = UInt64(hundredths) % 100
        if fraction != 0 {
            var digits = fraction < 10 ? "0\(fraction)" : String(fraction)
            if fraction % 10 == 0 { fraction /= 10; digits = String(fraction) }
            text += "." + digits
        }
        return "\(text) \(binaryUnits[exponent])"
    }

    public static func parse(_ s: String) -> UInt64? {
        let bytes = Array(s.utf8)
        var i = 0
        func skipSpaces() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 } }
        skipSpaces()
        var whole: [UInt8] = []
        var fraction: [UInt8] = []
        while i < bytes.count, isDigit(bytes[i]) { whole.append(bytes[i] - 0x30); i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, isDigit(bytes[i]) { fraction.append(bytes[i] - 0x30); i += 1 }
            if fraction.isEmpty { return nil }
        }
        if whole.isEmpty { return nil }
        skipSpaces()
        var end = bytes.count
        while end > i, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        guard let multiplier = unitMultiplier(String(decoding: bytes[i..<end], as: UTF8.self)) else { return nil }

        // Exact arithmetic: whole * multiplier + fraction * multiplier / 10^digits, which must be whole.
        var total: UInt64 = 0
        for digit in whole {
            let (t, o1) = total.multipliedReportingOverflow(by: 10)
            let (u, o2) = t.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            total = u
        }
        let (scaled, overflow) = total.multipliedReportingOverflow(by: multiplier)
        if overflow { return nil }
        guard fraction.count <= 18 else { return fraction.allSatisfy { $0 == 0 } ? scaled : nil }
        var numerator: UInt64 = 0
        var denominator: UInt64 = 1
        for digit in fraction { numerator = numerator * 10 + UInt64(digit); denominator *= 10 }
        let (high, low) = numerator.multipliedFullWidth(by: multiplier)
        guard high < denominator else { return nil }
        let (quotient, remainder) = denominator.dividingFullWidth((high, low))
        guard remainder == 0 else { return nil }
        let (sum, o3) = scaled.addingReportingOverflow(quotient)
        return o3 ? nil : sum
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func unitMultiplier(_ unit: String) -> UInt64? {
        let u = unit.lowercased()
        if u.isEmpty || u == "b" { return 1 }
        let prefixes: [Character] = ["k", "m", "g", "t", "p", "e"]
        guard let first = u.first, let index = prefixes.firstIndex(of: first) else { return nil }
        let power = index + 1
        switch u.dropFirst() {
        case "", "ib": return UInt64(1) << (10 * UInt64(power))
        case "b":
            var value: UInt64 = 1
            for _ in 0..<power { value *= 1000 }
            return value
        default: return nil
        }
    }
}
