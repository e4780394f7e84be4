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

    /// Parses ISO 8601 with or without fractional seconds, with `Z` or an offset.
    public static func parseDateTime(_ value: String) -> Date? {
        let plain = Date.ISO8601FormatStyle()
        if let date = try? plain.parse(value) { return date }
        if let date = try? plain.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
            .parse(value)
        {
            return date
        }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(value) { return date }
        return nil
    }

    /// `YYYY-MM-DD` naming a real calendar day.
    public static func isDate(_ value: String) -> Bool {
        guard value.utf8.count == 10 else { return false }
        return (try? Date.ISO8601FormatStyle().year().month().day().parse(value)) != nil
    }
}
