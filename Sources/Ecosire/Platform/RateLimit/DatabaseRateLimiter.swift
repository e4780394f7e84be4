import Foundation
import SQLKit

/// Fixed-window counters in the database, so that several instances on one PostgreSQL database
/// enforce one limit. Each hit is one atomic upsert that returns the new count; rows of past
/// windows are removed by `PlatformMaintenance`.
public struct DatabaseRateLimiter: RateLimiter {
    let database: any Database
    let clock: WallClock

    public init(database: any Database, clock: WallClock) {
        self.database = database
        self.clock = clock
    }

    public func hit(key: String, limit: Int, window: Int) async throws -> RateLimitDecision {
        let now = Int64(clock.now().timeIntervalSince1970)
        let start = now - now % Int64(window)
        let rows = try await database.run(
            """
            INSERT INTO rate_limit_counters (bucket, window_start, hits, expires_at)
            VALUES (\(bind: key), \(bind: start), 1, \(bind: (start + Int64(window)) * 1000))
            ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
            RETURNING hits
            """
        )
        let count = Int(try rows.first?.integer("hits") ?? 1)
        return RateLimitDecision(count: count, limit: limit, start: start, window: window, now: now)
    }
}
