import Foundation
import SQLKit

/// Each organization's plan, for daily quotas. Plans change rarely (billing changes them), so
/// they are cached for `ttl` rather than read on every request.
public final class PlanDirectory: Sendable {
    private let database: any Database
    private let clock: WallClock
    private let cache: ExpiringCache<String>

    public init(database: any Database, clock: WallClock, ttl: TimeInterval = 30) {
        self.database = database
        self.clock = clock
        self.cache = ExpiringCache(ttlMillis: Int64(ttl * 1000))
    }

    /// The organization's plan (`free` when it cannot be found).
    public func plan(of organizationID: String) async throws -> String {
        let now = clock.nowMillis()
        if let cached = cache.value(for: organizationID, now: now) { return cached }
        let rows = try await database.readRows("SELECT plan FROM organizations WHERE id = \(bind: organizationID)")
        let plan = try rows.first?.text("plan") ?? "free"
        cache.store(plan, for: organizationID, now: now)
        return plan
    }

    /// Forgets a cached plan (after the plan changed on this instance).
    public func invalidate(organizationID: String) {
        cache.remove(organizationID)
    }
}
