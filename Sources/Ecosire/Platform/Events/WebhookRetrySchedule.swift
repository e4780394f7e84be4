import Foundation

/// When a failed delivery is tried again: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
/// 10 h after each failure (eight attempts, about 28 hours), each delay ±10 % so that retries of
/// many deliveries spread out, and never sooner than the receiver's `Retry-After`.
public enum WebhookRetrySchedule {
    /// Seconds to wait after the n-th failed attempt (n = 1…7).
    public static let delays: [Int64] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
    /// Attempts before a delivery is given up.
    public static var maxAttempts: Int { delays.count + 1 }
    /// The jitter applied to each delay, as a fraction.
    public static let jitter = 0.1
    /// `Retry-After` is honoured up to a day.
    static let longestRetryAfter: Int64 = 86_400

    /// Milliseconds until the next attempt after `attempts` failed ones, or nil when there is none.
    public static func nextDelayMillis(afterAttempts attempts: Int, retryAfterSeconds: Int64? = nil) -> Int64? {
        guard attempts >= 1, attempts < maxAttempts else { return nil }
        let base = Double(delays[attempts - 1] * 1000)
        let scheduled = Int64(base * (1 + Double.random(in: -jitter...jitter)))
        guard let retryAfterSeconds else { return scheduled }
        return max(scheduled, min(retryAfterSeconds, longestRetryAfter) * 1000)
    }

    /// `Retry-After` as seconds from `now`: delay-seconds or an HTTP date.
    public static func retryAfterSeconds(_ value: String, now: Date) -> Int64? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(text) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return max(0, Int64(date.timeIntervalSince(now).rounded(.up)))
    }
}
