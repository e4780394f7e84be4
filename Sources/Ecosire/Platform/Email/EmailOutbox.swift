import Foundation
import SQLKit

/// Every outgoing email is a row here, written on the connection of the transaction that caused
/// it (a ticket and its acknowledgement exist together or not at all). The delivery worker sends
/// due rows through SMTP and records the outcome on the same row.
public struct EmailOutbox: Sendable {
    public let clock: WallClock
    let secrets: SecretBox

    public init(clock: WallClock, secrets: SecretBox) {
        self.clock = clock
        self.secrets = secrets
    }

    /// What the admin view and the stored body show instead of a message's secret.
    public static let redacted = "[redacted]"

    /// What a message is about, for the admin view and the contact timeline.
    public struct Related: Sendable {
        public var type: String
        public var id: String
        public init(type: String, id: String) {
            self.type = type
            self.id = id
        }
    }

    /// Queues a plain-text message; returns its id. `headers` are extra header lines (their values
    /// are stripped of line breaks when sent). When `text` carries a one-time `secret` (a
    /// confirmation token), the stored body has it redacted and the full text is sealed until sent.
    @discardableResult
    public func enqueue(
        _ sql: any SQLDatabase, organizationID: String, to: EmailAddress, subject: String, text: String, kind: String,
        related: Related? = nil, headers: [(String, String)] = [], secret: String? = nil
    ) async throws -> String {
        let id = UUIDv7.generate()
        let sealed = try secret.map { _ in try secrets.seal(text) }
        let body = secret.map { text.replacingOccurrences(of: $0, with: Self.redacted) } ?? text
        let now = clock.nowMillis()
        let headerJSON: String? =
            headers.isEmpty ? nil : JSONValue.array(headers.map { .array([.string($0.0), .string($0.1)]) }).jsonString
        try await sql.raw(
            """
            INSERT INTO email_outbox (id, organization_id, kind, to_address, to_name, subject, body, sealed_body, headers, status, attempts,
                next_attempt_at, message_id, related_type, related_id, created_at, updated_at)
            VALUES (\(bind: id), \(bind: organizationID), \(bind: kind), \(bind: to.address), \(bind: to.name), \(bind: String(subject.prefix(500))),
                \(bind: body), \(bind: sealed), \(bind: headerJSON), 'queued', 0, \(bind: now), \(bind: id + "@ecosire"), \(bind: related?.type),
                \(bind: related?.id), \(bind: now), \(bind: now))
            """
        ).run()
        return id
    }
}
