import Logging
import SQLKit
import ServiceLifecycle

/// Removes rows that have outlived their purpose, once a minute: finished rate-limit windows,
/// idempotency records past their 24 hours, and audit entries past the retention period.
public struct Housekeeping: Service {
    let database: any Database
    let clock: WallClock
    let auditRetentionDays: Int
    let interval: Duration
    let logger: Logger

    public init(database: any Database, clock: WallClock, auditRetentionDays: Int, interval: Duration = .seconds(60), logger: Logger) {
        self.database = database
        self.clock = clock
        self.auditRetentionDays = auditRetentionDays
        self.interval = interval
        self.logger = logger
    }

    /// One pass.
    public func prune() async throws {
        let now = clock.nowMillis()
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM rate_limit_counters WHERE expires_at < \(bind: now)").run()
            try await sql.raw("DELETE FROM idempotency_records WHERE created_at < \(bind: now - IdempotencyStore.retentionMillis)").run()
            let auditCutoff = now - Int64(auditRetentionDays) * 86_400_000
            try await sql.raw("DELETE FROM api_key_audit WHERE occurred_at < \(bind: auditCutoff)").run()
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
