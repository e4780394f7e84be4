import Foundation
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// Checks every component every `STATUS_SAMPLE_SECONDS` and records the minute's samples and the
/// incidents they open and resolve. Instances sharing a database write the same rows: a minute
/// keeps the worst status any of them saw, and an incident is opened once.
///
/// Passes are aligned to the wall clock (just after each interval boundary) so that every minute
/// gets a sample; a minute without one counts as down in the uptime.
public final class StatusSampler: Service, Sendable {
    private struct State {
        /// The first recorded pass looks for a gap before it (the server was down).
        var lookedForGap = false
        /// When passes began failing because the database was unreachable; recorded as a
        /// database incident once writing works again.
        var unrecordedOutageSince: Int64?
    }

    private let database: any Database
    private let clock: WallClock
    private let checks: StatusChecks
    private let intervalSeconds: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// This many minutes or more without a sample from any instance is recorded as an outage.
    static let gapMinutes: Int64 = 3
    /// Samples and resolved incidents are kept a day longer than the longest uptime window
    /// (`Housekeeping` deletes older ones).
    public static let retentionMinutes: Int64 = 91 * 1440

    public init(database: any Database, clock: WallClock, config: AppConfiguration, logger: Logger) {
        self.database = database
        self.clock = clock
        self.checks = StatusChecks(database: database, clock: clock, emailConfigured: config.email.smtp != nil)
        self.intervalSeconds = config.statusSampleSeconds
        self.logger = logger
    }

    public func run() async throws {
        guard intervalSeconds > 0 else {
            try? await gracefulShutdown()
            return
        }
        let period = Int64(intervalSeconds) * 1000
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sample()
            } catch {
                logger.warning("Recording component status failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            // Wake a little after the next boundary, so a pass never lands in the minute before.
            let delay = period - clock.nowMillis() % period + min(1000, period / 10)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(delay)) }
        }
    }

    /// One pass: checks every component and records the minute's samples, then opens, escalates
    /// or resolves incidents. Tests call it directly (with the sampler service turned off).
    public func sample() async throws {
        let results = await checks.run()
        let now = results.first?.checkedAt ?? clock.nowMillis()
        let databaseDown = results.contains { $0.component == .database && $0.status == .outage }
        let pending = state.withLock { $0 }
        do {
            try await record(results, now: now, lookForGap: !pending.lookedForGap, unrecordedOutageSince: pending.unrecordedOutageSince)
        } catch {
            if databaseDown {
                state.withLock { $0.unrecordedOutageSince = min($0.unrecordedOutageSince ?? now, now) }
            }
            throw error
        }
        state.withLock { state in
            state.lookedForGap = true
            if state.unrecordedOutageSince == pending.unrecordedOutageSince { state.unrecordedOutageSince = nil }
        }
    }

    private func record(_ results: [ComponentCheck], now: Int64, lookForGap: Bool, unrecordedOutageSince: Int64?) async throws {
        let minute = now / 60_000
        try await database.transaction { sql in
            if let since = unrecordedOutageSince {
                try await Self.insertResolved(
                    sql, component: StatusComponent.database.rawValue, severity: .outage,
                    summary: "The database could not be reached; no status was recorded meanwhile", from: since, to: now)
            }
            if lookForGap, let last = try await sql.raw("SELECT MAX(minute) AS last FROM status_samples").first(),
                !(try last.decodeNil(column: "last"))
            {
                // From the first minute nobody sampled to this one (or to when this process saw the
                // database go away, which is recorded as a database incident instead).
                let start = (try last.decode(column: "last", as: Int64.self) + 1) * 60_000
                let end = min(minute * 60_000, unrecordedOutageSince ?? .max)
                if end - start >= Self.gapMinutes * 60_000 {
                    try await Self.insertResolved(
                        sql, component: StatusComponent.api.rawValue, severity: .outage,
                        summary: "No status was recorded: the server was down or not running", from: start, to: end)
                }
            }
            let overall = results.map(\.status).max() ?? .operational
            for (component, status, detail) in results.map({ ($0.component.rawValue, $0.status, $0.detail) })
                + [(StatusComponent.overall, overall, "")]
            {
                let merged =
                    try await sql.raw(
                        """
                        INSERT INTO status_samples (component, minute, severity, checked_at)
                        VALUES (\(bind: component), \(bind: minute), \(bind: status.rawValue), \(bind: now))
                        ON CONFLICT (component, minute) DO UPDATE SET
                            severity = CASE WHEN excluded.severity > status_samples.severity THEN excluded.severity ELSE status_samples.severity END,
                            checked_at = CASE WHEN excluded.checked_at > status_samples.checked_at THEN excluded.checked_at ELSE status_samples.checked_at END
                        RETURNING severity
                        """
                    ).first().map { ComponentStatus(severity: try $0.decode(column: "severity", as: Int64.self)) } ?? status
                guard component != StatusComponent.overall else { continue }
                if status > .operational {
                    // Opens one unless one is open already (the partial unique index), else makes
                    // the open one worse.
                    try await sql.raw(
                        """
                        INSERT INTO status_incidents (id, component, severity, summary, started_at, updated_at)
                        VALUES (\(bind: UUIDv7.generate()), \(bind: component), \(bind: status.rawValue), \(bind: detail), \(bind: now), \(bind: now))
                        ON CONFLICT DO NOTHING
                        """
                    ).run()
                    try await sql.raw(
                        """
                        UPDATE status_incidents SET severity = \(bind: status.rawValue), summary = \(bind: detail), updated_at = \(bind: now)
                        WHERE component = \(bind: component) AND resolved_at IS NULL AND severity < \(bind: status.rawValue)
                        """
                    ).run()
                } else if merged == .operational {
                    // Only when no instance saw trouble in this minute, so instances that disagree
                    // do not resolve and reopen it every pass.
                    try await sql.raw(
                        """
                        UPDATE status_incidents SET resolved_at = \(bind: now), updated_at = \(bind: now)
                        WHERE component = \(bind: component) AND resolved_at IS NULL
                        """
                    ).run()
                }
            }
        }
    }

    /// Records an incident that is already over (idempotent: one per component and start).
    private static func insertResolved(
        _ sql: any SQLDatabase, component: String, severity: ComponentStatus, summary: String, from start: Int64, to end: Int64
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO status_incidents (id, component, severity, summary, started_at, resolved_at, updated_at)
            VALUES (\(bind: UUIDv7.generate()), \(bind: component), \(bind: severity.rawValue), \(bind: summary), \(bind: start), \(bind: end), \(bind: end))
            ON CONFLICT DO NOTHING
            """
        ).run()
    }
}
