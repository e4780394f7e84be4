import Foundation
import HTTPTypes
import Metrics
import Synchronization

/// The outcome of counting one request against a limit.
public struct RateLimitDecision: Sendable {
    public var allowed: Bool
    public var limit: Int
    public var remaining: Int
    /// Unix seconds when the current window ends.
    public var resetAt: Int64
    public var windowSeconds: Int
    /// Seconds until a retry can succeed (≥ 1).
    public var retryAfter: Int

    /// Adds `X-RateLimit-*` and the IETF `RateLimit`/`RateLimit-Policy` headers to fields that
    /// have none of them yet (appending is cheaper than the subscript, which searches first).
    public func apply(to headers: inout HTTPFields, now: Int64) {
        let reset = max(0, resetAt - now)
        headers.append(HTTPField(name: .xRateLimitLimit, value: String(limit)))
        headers.append(HTTPField(name: .xRateLimitRemaining, value: String(remaining)))
        headers.append(HTTPField(name: .xRateLimitReset, value: String(resetAt)))
        headers.append(HTTPField(name: .rateLimit, value: "limit=\(limit), remaining=\(remaining), reset=\(reset)"))
        headers.append(HTTPField(name: .rateLimitPolicy, value: "\(limit);w=\(windowSeconds)"))
        if !allowed { headers.append(HTTPField(name: .retryAfter, value: String(retryAfter))) }
    }

    /// Of two limits a request counted against, the one closer to refusing it (fewer requests
    /// left, then the later reset): the one whose headers tell the client when to slow down.
    public func tighter(_ other: RateLimitDecision) -> RateLimitDecision {
        if other.remaining != remaining { return other.remaining < remaining ? other : self }
        return other.resetAt > resetAt ? other : self
    }

    /// The 429 problem for a rejected request, with every header; counted in
    /// `ecosire_rate_limited_total` under the limit's `policy` (its rate class, or `daily_quota`).
    public func rejection(now: Int64, policy: String, message: String = "Too many requests; retry later") -> APIError {
        Counter(label: "ecosire_rate_limited_total", dimensions: [("policy", policy)]).increment()
        var headers = HTTPFields()
        apply(to: &headers, now: now)
        return APIError(.tooManyRequests, code: "RATE_LIMITED", message: message, headers: headers)
    }
}

/// Counts requests in fixed windows. Exact: of N concurrent requests against a limit of L, exactly
/// min(N, L) are allowed.
public protocol RateLimiter: Sendable {
    /// Counts one request for `key` against `limit` per `window` seconds (windows are aligned to
    /// multiples of `window` since the Unix epoch, so a day-long window is a UTC day).
    func hit(key: String, limit: Int, window: Int) async throws -> RateLimitDecision
}

extension RateLimitDecision {
    /// The decision for a window starting at `start` after `count` hits.
    init(count: Int, limit: Int, start: Int64, window: Int, now: Int64) {
        let resetAt = start + Int64(window)
        self.init(
            allowed: count <= limit, limit: limit, remaining: max(0, limit - count), resetAt: resetAt,
            windowSeconds: window, retryAfter: max(1, Int(resetAt - now))
        )
    }
}

/// A fixed-window counter per key, exact within one process (a mutex guards the table). Used with
/// SQLite, where there is only ever one server process.
public final class InMemoryRateLimiter: RateLimiter {
    private struct Window { var start: Int64; var count: Int }
    private let windows = Mutex<[String: Window]>([:])
    private let clock: WallClock

    public init(clock: WallClock = .system) { self.clock = clock }

    /// Counts one request for `key` against `limit` per `window` seconds.
    public func hit(key: String, limit: Int, window: Int) -> RateLimitDecision {
        let now = Int64(clock.now().timeIntervalSince1970)
        let start = now - now % Int64(window)
        let count = windows.withLock { table -> Int in
            if table.count > 50_000 { table = table.filter { $0.value.start >= start } }
            var entry = table[key] ?? Window(start: start, count: 0)
            if entry.start != start { entry = Window(start: start, count: 0) }
            if entry.count < limit { entry.count += 1 } else { entry.count = limit + 1 }
            table[key] = entry
            return entry.count
        }
        return RateLimitDecision(count: count, limit: limit, start: start, window: window, now: now)
    }
}

extension HTTPField.Name {
    static let xRateLimitLimit = Self("X-RateLimit-Limit")!
    static let xRateLimitRemaining = Self("X-RateLimit-Remaining")!
    static let xRateLimitReset = Self("X-RateLimit-Reset")!
    static let rateLimit = Self("RateLimit")!
    static let rateLimitPolicy = Self("RateLimit-Policy")!
}
