import Foundation

/// Format checks shared by schemas and hand-written validation.
public enum Validators {
    /// A practical address check: one `@`, a non-empty local part without spaces, and a dotted
    /// domain of letters, digits and hyphens.
    public static func isEmail(_ value: String) -> Bool {
        guard value.utf8.count <= 254, let at = value.lastIndex(of: "@") else { return false }
        let local = value[..<at]
        let domain = value[value.index(after: at)...]
        guard !local.isEmpty, local.utf8.count <= 64, !local.contains(where: { $0.isWhitespace || $0 == "@" || $0.isNewline })
        else { return false }
        guard !local.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { ($0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-")) }
        }
    }

    /// An absolute http or https URL with a host.
    public static func isHTTPURL(_ value: String) -> Bool {
        // RFC 3986: printable ASCII only; other characters must be percent-encoded.
        guard value.utf8.count <= 2048, value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }),
            let components = URLComponents(string: value),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return false }
        return true
    }

    /// Parses RFC 3339 / ISO 8601 date-times: any number of fractional digits, `Z` or any `±hh:mm`
    /// offset (Foundation's parser refuses some valid forms, such as `.0+21:26`).
    public static func parseDateTime(_ value: String) -> Date? {
        let digits = Array(value.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= digits.count else { return nil }
            var result = 0
            for byte in digits[start..<start + count] {
                guard byte >= 48 && byte <= 57 else { return nil }
                result = result * 10 + Int(byte - 48)
            }
            return result
        }
        guard digits.count >= 20, let year = number(0, 4), digits[4] == 45, let month = number(5, 2), digits[7] == 45,
            let day = number(8, 2), [84, 116, 32].contains(digits[10]), let hour = number(11, 2), digits[13] == 58,
            let minute = number(14, 2), digits[16] == 58, let second = number(17, 2)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < digits.count, digits[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < digits.count, digits[index] >= 48, digits[index] <= 57 {
                fraction += Double(digits[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offsetSeconds = 0
        guard index < digits.count else { return nil }
        switch digits[index] {
        case 90, 122:  // Z
            guard index + 1 == digits.count else { return nil }
        case 43, 45:  // + -
            guard let hours = number(index + 1, 2), hours <= 23 else { return nil }
            var minutesAt = index + 3
            if minutesAt < digits.count, digits[minutesAt] == 58 { minutesAt += 1 }
            guard let minutes = number(minutesAt, 2), minutes <= 59, minutesAt + 2 == digits.count else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (digits[index] == 43 ? 1 : -1)
        default:
            return nil
        }
        guard (1...12).contains(month), hour <= 23, minute <= 59, second <= 60 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month, day)
        (components.hour, components.minute, components.second) = (hour, minute, min(second, 59))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == day else { return nil }
        return date.addingTimeInterval(fraction - Double(offsetSeconds))
    }

    /// `YYYY-MM-DD` naming a real calendar day.
    public static func isDate(_ value: String) -> Bool {
        guard value.utf8.count == 10 else { return false }
        return (try? Date.ISO8601FormatStyle().year().month().day().parse(value)) != nil
    }
}
