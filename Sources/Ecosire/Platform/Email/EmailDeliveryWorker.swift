import Foundation
import Logging
import Metrics
import SQLKit
import ServiceLifecycle

/// Sends the email outbox through SMTP, at least once: due messages are leased to this worker
/// (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances never take the same one), sent a few at
/// a time, and recorded as sent, queued again for a later attempt (a 4xx reply, a dropped
/// connection), or failed (a 5xx reply, or the last attempt). A crash between sending and
/// recording leaves the lease to expire and the message is sent again.
public final class EmailDeliveryWorker: Service, Sendable {
    private let database: any Database
    private let clock: WallClock
    private let settings: EmailSettings
    private let logger: Logger
    private let secrets: SecretBox
    private static let batch = 4

    init(database: any Database, clock: WallClock, settings: EmailSettings, secrets: SecretBox, logger: Logger) {
        self.secrets = secrets
        self.database = database
        self.clock = clock
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        guard let endpoint = settings.smtp else {
            if settings.invalidSMTPURL { logger.error("SMTP_URL is not a valid smtp:// or smtps:// URL; email is recorded but not sent") }
            // Nothing is sent, but the backlog is still reported.
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                await measureBacklog()
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
            }
            return
        }
        var backlogMeasured = ContinuousClock.now - .seconds(60)
        let client = SMTPClient(endpoint: endpoint, timeout: .seconds(settings.timeoutSeconds))
        logger.info("Sending email through SMTP", metadata: ["host": .string(endpoint.host), "port": .stringConvertible(endpoint.port)])
        while !Task.isShuttingDownGracefully {
            if ContinuousClock.now - backlogMeasured >= .seconds(5) {
                backlogMeasured = ContinuousClock.now
                await measureBacklog()
            }
            var claimed: [ClaimedEmail] = []
            do {
                claimed = try await claim()
            } catch {
                logger.error("Claiming email failed", metadata: ["error": .string(String(describing: error))])
            }
            await withTaskGroup(of: Void.self) { group in
                for email in claimed {
                    group.addTask { await self.deliver(email, client: client) }
                }
            }
            if claimed.count < Self.batch {
                try? await Task.sleep(for: .milliseconds(settings.pollMillis))
            }
        }
    }

    /// `ecosire_email_queue_depth` (queued messages) and `ecosire_email_oldest_due_seconds` (how
    /// long the most overdue one has waited past its attempt time).
    func measureBacklog() async {
        let now = clock.nowMillis()
        guard
            let row = try? await database.readRows(
                """
                SELECT COUNT(*) AS n, MIN(CASE WHEN next_attempt_at <= \(bind: now) THEN next_attempt_at END) AS due
                FROM email_outbox WHERE status IN ('queued', 'sending')
                """
            ).first
        else { return }
        Gauge(label: "ecosire_email_queue_depth").record((try? row.integer("n")) ?? 0)
        let due = (try? row.isNull("due")) == false ? try? row.integer("due") : nil
        Gauge(label: "ecosire_email_oldest_due_seconds").record(Double(due.map { max(0, now - $0) } ?? 0) / 1000)
    }

    struct ClaimedEmail: Sendable {
        var id: String
        var message: EmailMessage
        var attempt: Int
        var leaseUntil: Int64
    }

    /// Leases up to a batch of due messages (queued and due, or sending with an expired lease).
    func claim() async throws -> [ClaimedEmail] {
        let now = clock.nowMillis()
        // Connecting and the conversation are each bounded by the timeout; the lease outlasts both.
        let lease = now + Int64(2 * settings.timeoutSeconds + 30) * 1000
        let lock: SQLQueryString = database.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        let rows = try await database.transaction { sql in
            // A message whose lease ran out on its last attempt (a crash mid-send, an outcome that
            // could not be written) is not sent again: it fails.
            try await sql.raw(
                """
                UPDATE email_outbox SET status = 'failed', lease_until = NULL, updated_at = \(bind: now),
                    last_error = COALESCE(last_error, 'The outcome of the last attempt was never recorded')
                WHERE status = 'sending' AND lease_until < \(bind: now) AND attempts >= \(bind: self.settings.maxAttempts)
                """
            ).run()
            return try await sql.raw(
                """
                UPDATE email_outbox SET status = 'sending', lease_until = \(bind: lease), attempts = attempts + 1, updated_at = \(bind: now)
                WHERE id IN (
                    SELECT id FROM email_outbox
                    WHERE (status = 'queued' AND next_attempt_at <= \(bind: now)) OR (status = 'sending' AND lease_until < \(bind: now))
                    ORDER BY next_attempt_at LIMIT \(bind: Self.batch)\(lock))
                RETURNING id, to_address, to_name, subject, body, sealed_body, headers, message_id, attempts, created_at
                """
            ).all().map { DecodedColumns($0) }
        }
        return try rows.map { row in
            let headers = (try row.jsonText("headers").stringValue.flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []).compactMap {
                pair -> (String, String)? in
                guard let name = pair[0]?.stringValue, let value = pair[1]?.stringValue else { return nil }
                return (name, value)
            }
            return ClaimedEmail(
                id: try row.text("id"),
                message: EmailMessage(
                    from: settings.from,
                    to: EmailAddress(address: try row.text("to_address"), name: try row.jsonText("to_name").stringValue),
                    subject: try row.text("subject"),
                    text: try row.isNull("sealed_body") ? row.text("body") : secrets.open(row.text("sealed_body")),
                    messageID: try row.text("message_id"),
                    date: Date(timeIntervalSince1970: Double(try row.integer("created_at")) / 1000), headers: headers),
                attempt: Int(try row.integer("attempts")), leaseUntil: lease)
        }
    }

    private func deliver(_ email: ClaimedEmail, client: SMTPClient) async {
        let outcome: Result<String, SMTPFailure>
        do {
            outcome = .success(try await client.send(email.message))
        } catch let failure as SMTPFailure {
            outcome = .failure(failure)
        } catch {
            outcome = .failure(.transient(String(describing: error)))
        }
        do {
            try await record(email, outcome)
        } catch {
            logger.error("Recording an email outcome failed", metadata: ["email": .string(email.id), "error": .string("\(error)")])
        }
    }

    func record(_ email: ClaimedEmail, _ outcome: Result<String, SMTPFailure>) async throws {
        let now = clock.nowMillis()
        // Only while our lease holds: after it expired another worker may own the row.
        let owned: SQLQueryString = "id = \(bind: email.id) AND status = 'sending' AND lease_until = \(bind: email.leaseUntil)"
        switch outcome {
        case .success(let response):
            Counter(label: "ecosire_emails_total", dimensions: [("outcome", "sent")]).increment()
            _ = try await database.run(
                """
                UPDATE email_outbox SET status = 'sent', sent_at = \(bind: now), server_response = \(bind: response), last_error = NULL, sealed_body = NULL,
                    lease_until = NULL, updated_at = \(bind: now)
                WHERE \(owned)
                """)
        case .failure(let failure):
            let retry: Bool
            if case .transient = failure { retry = email.attempt < settings.maxAttempts } else { retry = false }
            Counter(label: "ecosire_emails_total", dimensions: [("outcome", retry ? "retried" : "failed")]).increment()
            logger.warning(
                "Email delivery failed",
                metadata: ["email": .string(email.id), "attempt": .stringConvertible(email.attempt), "error": .string(failure.description)])
            let next = now + Int64(settings.retryDelay(afterAttempt: email.attempt)) * 1000
            _ = try await database.run(
                """
                UPDATE email_outbox SET status = \(bind: retry ? "queued" : "failed"), next_attempt_at = \(bind: retry ? next : now),
                    last_error = \(bind: String(failure.description.prefix(1000))), lease_until = NULL, updated_at = \(bind: now)
                WHERE \(owned)
                """)
        }
    }
}
