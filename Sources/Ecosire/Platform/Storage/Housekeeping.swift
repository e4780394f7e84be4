import Logging
import SQLKit
import ServiceLifecycle

/// Removes rows that have outlived their purpose, once a minute: finished rate-limit windows,
/// idempotency records past their 24 hours, audit entries past the retention period, and finished
/// webhook deliveries (with their attempts) past theirs.
public struct Housekeeping: Service {
    let database: any Database
    let clock: WallClock
    let auditRetentionDays: Int
    let webhookLogRetentionDays: Int
    let interval: Duration
    let logger: Logger

    public init(
        database: any Database, clock: WallClock, auditRetentionDays: Int, webhookLogRetentionDays: Int = 30,
        interval: Duration = .seconds(60), logger: Logger
    ) {
        self.database = database
        self.clock = clock
        self.auditRetentionDays = auditRetentionDays
        self.webhookLogRetentionDays = webhookLogRetentionDays
        self.interval = interval
        self.logger = logger
    }

    /// One pass.
    public func prune() async throws {
        let now = clock.nowMillis()
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM rate_limit_counters WHERE expires_at < \(bind: now)").run()
            try await sql.raw("DELETE FROM idempotency_records WHERE created_at < \(bind: now - IdempotencyStore.retentionMillis)").run()
            try await sql.raw("DELETE FROM process_leases WHERE expires_at < \(bind: now - 60_000)").run()
            let auditCutoff = now - Int64(auditRetentionDays) * 86_400_000
            try await sql.raw("DELETE FROM api_key_audit WHERE occurred_at < \(bind: auditCutoff)").run()
            let statusCutoff = now / 60_000 - StatusSampler.retentionMinutes
            try await sql.raw("DELETE FROM status_samples WHERE minute < \(bind: statusCutoff)").run()
            try await sql.raw("DELETE FROM status_incidents WHERE resolved_at < \(bind: statusCutoff * 60_000)").run()
            // A bounded batch per pass keeps each transaction short on a busy queue.
            let webhookCutoff = now - Int64(webhookLogRetentionDays) * 86_400_000
            try await sql.raw(
                """
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < \(bind: webhookCutoff) LIMIT 5000)
                """
            ).run()
        }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            do {
                try await prune()
            } catch {
                logger.warning("Housekeeping failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }
}
