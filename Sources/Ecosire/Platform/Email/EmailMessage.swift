import Foundation

/// One plain-text email, rendered as RFC 5322 + MIME for SMTP's DATA.
public struct EmailMessage: Sendable {
    public var from: EmailAddress
    public var to: EmailAddress
    public var subject: String
    public var text: String
    /// Without angle brackets: `018e…@ecosire`.
    public var messageID: String
    public var date: Date
    /// Extra headers (`List-Unsubscribe`), already safe to send (no line breaks).
    public var headers: [(String, String)]

    public init(
        from: EmailAddress, to: EmailAddress, subject: String, text: String, messageID: String, date: Date,
        headers: [(String, String)] = []
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.messageID = messageID
        self.date = date
        self.headers = headers
    }

    /// Header lines and a base64 body with CRLF line ends; no line starts with a dot, so it needs
    /// no dot-stuffing. Every header value is stripped of control characters first, so text from
    /// a public form cannot add headers.
    public func rendered() -> String {
        var lines = [
            "Date: " + Self.rfc5322Date(date),
            "From: " + Self.mailbox(from),
            "To: " + Self.mailbox(to),
            "Subject: " + Self.encodedWord(subject),
            "Message-ID: <" + Self.headerSafe(messageID) + ">",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "Auto-Submitted: auto-generated",
        ]
        for (name, value) in headers { lines.append(Self.headerSafe(name) + ": " + Self.headerSafe(value)) }
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let encoded = Data(normalized.utf8).base64EncodedString(options: [
            .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
        ])
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + encoded + "\r\n"
    }

    /// Removes CR, LF and other control characters (header injection).
    static func headerSafe(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
    }

    /// RFC 2047 encoded words when the text is not plain ASCII: at most 45 bytes of UTF-8 each
    /// (60 characters of base64, so each word stays under 75), whole characters only, folded onto
    /// continuation lines so no header line grows past the limits.
    static func encodedWord(_ value: String) -> String {
        let safe = headerSafe(value)
        if safe.unicodeScalars.allSatisfy({ $0.isASCII }) { return safe }
        var words: [String] = []
        var chunk = ""
        for character in safe {
            if chunk.utf8.count + String(character).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
    }

    static func mailbox(_ mailbox: EmailAddress) -> String {
        let address = headerSafe(mailbox.address)
        guard let name = mailbox.name.map(headerSafe), !name.isEmpty else { return address }
        if name.unicodeScalars.allSatisfy({ $0.isASCII }) {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"" + quoted + "\" <" + address + ">"
        }
        return encodedWord(name) + " <" + address + ">"
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
