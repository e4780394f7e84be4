import Foundation

/// When and how long the client waits before sending a request again.
///
/// A request is retried on 429 (the server did not run it), and on 5xx answers and connection
/// failures when repeating it is safe: GET, HEAD, PUT, PATCH, DELETE, and POSTs that carry an
/// `Idempotency-Key` (the client adds one to every POST that accepts it). The wait is the server's
/// `Retry-After` when it sends one, else exponential backoff with full jitter.
public struct RetryPolicy: Sendable {
    /// Attempts after the first (0 turns retries off).
    public var maxRetries: Int
    /// The backoff's first step; attempt n waits a random time up to `baseDelay × 2ⁿ`.
    public var baseDelay: Duration
    /// The longest backoff wait.
    public var maxDelay: Duration
    /// The longest `Retry-After` the client waits for; a longer one is returned as the error.
    public var maxRetryAfter: Duration

    /// Creates a policy.
    public init(
        maxRetries: Int = 3, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(20),
        maxRetryAfter: Duration = .seconds(60)
    ) {
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Three retries, starting at half a second.
    public static let `default` = RetryPolicy()
    /// Never retry.
    public static let none = RetryPolicy(maxRetries: 0)

    /// The wait before retry number `attempt` (0-based): `Retry-After` when given, else backoff.
    func delay(attempt: Int, retryAfter: Int?) -> Duration {
        if let retryAfter { return .seconds(retryAfter) }
        let ceiling = min(maxDelay, baseDelay * (1 << min(attempt, 20)))
        return .milliseconds(Int64.random(in: 0...max(ceiling.wholeMilliseconds, 0)))
    }

    /// `Retry-After` in whole seconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
    static func seconds(retryAfter value: String, now: Date) -> Int? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return max(seconds, 0) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return max(Int(date.timeIntervalSince(now).rounded(.up)), 0)
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded down).
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
