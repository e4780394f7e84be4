import Configuration
import Foundation

/// Outgoing email (`SMTP_URL`, `EMAIL_*` variables).
public struct EmailSettings: Sendable {
    /// Where mail is sent; nil records messages in the outbox without sending them.
    public var smtp: SMTPEndpoint?
    /// `EMAIL_FROM`: the sender, `Name <address>` or a bare address.
    public var from: EmailAddress
    /// `EMAIL_POLL_MILLIS`: how often the worker looks for due messages (500).
    public var pollMillis: Int
    /// `EMAIL_RETRY_SECONDS`: the first retry delay; each later one is five times longer (60).
    public var retrySeconds: Int
    /// `EMAIL_MAX_ATTEMPTS`: attempts before a message is marked failed (6).
    public var maxAttempts: Int
    /// `SMTP_TIMEOUT_SECONDS`: how long one delivery (connect to QUIT) may take (30).
    public var timeoutSeconds: Int

    public init(reader: ConfigReader) {
        let url = reader.string(forKey: "smtp.url", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        smtp = url.flatMap(SMTPEndpoint.init(url:))
        from =
            reader.string(forKey: "email.from").flatMap(EmailAddress.init(parsing:))
            ?? EmailAddress(address: "no-reply@localhost", name: "Ecosire")
        pollMillis = min(60_000, max(10, reader.int(forKey: "email.poll.millis", default: 500)))
        retrySeconds = max(1, reader.int(forKey: "email.retry.seconds", default: 60))
        maxAttempts = min(20, max(1, reader.int(forKey: "email.max.attempts", default: 6)))
        timeoutSeconds = min(300, max(1, reader.int(forKey: "smtp.timeout.seconds", default: 30)))
        invalidSMTPURL = url != nil && smtp == nil
    }

    /// `SMTP_URL` was set but could not be read (reported at start).
    public var invalidSMTPURL: Bool

    /// Seconds before attempt `attempt + 1`, after `attempt` failed (1-based).
    public func retryDelay(afterAttempt attempt: Int) -> Int {
        var delay = retrySeconds
        for _ in 1..<max(1, attempt) { delay = min(delay * 5, 86_400) }
        return delay
    }
}

/// An SMTP server from `SMTP_URL`: `smtp://user:pass@host:587` (STARTTLS when offered;
/// `?starttls=required` refuses to go on without it, `?starttls=off` never asks) or
/// `smtps://host:465` (TLS from the first byte).
public struct SMTPEndpoint: Sendable, Equatable {
    public enum Security: Sendable, Equatable {
        case implicitTLS
        case startTLS(required: Bool)
        case none
    }

    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var security: Security

    public init?(url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else { return nil }
        let starttls = components.queryItems?.first { $0.name == "starttls" }?.value?.lowercased()
        switch scheme {
        case "smtps":
            security = .implicitTLS
            port = components.port ?? 465
        case "smtp":
            switch starttls {
            case "off", "false", "no": security = .none
            case "required", "true", "yes": security = .startTLS(required: true)
            default: security = .startTLS(required: false)
            }
            port = components.port ?? 25
        default: return nil
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        username = components.user.flatMap { $0.isEmpty ? nil : $0 }
        password = components.password
    }

    /// Credentials go over an unencrypted connection only to this machine.
    var isLoopback: Bool { host == "localhost" || host.hasPrefix("127.") || host == "::1" }
}

/// A mailbox: an address and an optional display name.
public struct EmailAddress: Sendable, Equatable {
    public var address: String
    public var name: String?

    public init(address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    /// `Name <a@b>` or `a@b`.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let open = trimmed.lastIndex(of: "<"), trimmed.hasSuffix(">") {
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            let name = trimmed[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
            guard Validators.isEmail(address) else { return nil }
            self.init(address: address, name: name.isEmpty ? nil : name)
        } else {
            guard Validators.isEmail(trimmed) else { return nil }
            self.init(address: trimmed)
        }
    }
}
