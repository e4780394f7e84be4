import Configuration

/// A row of the rate-limit table: which limit applies and whom it counts.
public struct RateLimitClass: Sendable, Hashable {
    /// Whom a class counts: the caller (API key, else user), the client address, or the account
    /// email a request names (from any address).
    public enum Subject: Sendable, Hashable {
        case caller
        case clientIP
        case email
    }

    /// The configuration name (`RATE_LIMIT_<NAME>`), also shown in the documentation.
    public var name: String
    public var subject: Subject
    /// The route(s) the class covers, for the documented table.
    public var routes: String

    public init(name: String, subject: Subject, routes: String) {
        self.name = name
        self.subject = subject
        self.routes = routes
    }

    /// Every authenticated endpoint without a class of its own.
    public static let standard = RateLimitClass(name: "default", subject: .caller, routes: "any other authenticated endpoint")
    /// Login attempts, counted per client address and email by the login route itself.
    public static let login = RateLimitClass(name: "login", subject: .clientIP, routes: "POST /api/auth/login (per IP + email)")
    /// Every account request from one client address: each may cost a password hash.
    public static let auth = RateLimitClass(
        name: "auth", subject: .clientIP,
        routes:
            "POST /api/auth/register, /login, /refresh, /password-reset and /password-reset/confirm, and the dashboard's sign-in and reset forms (per IP)"
    )
    /// Account requests naming one email, from any address: guesses spread over many addresses.
    public static let authEmail = RateLimitClass(
        name: "auth.email", subject: .email, routes: "POST /api/auth/register, /login and /password-reset (per email, from any IP)")
    public static let support = RateLimitClass(name: "support", subject: .clientIP, routes: "POST /api/support")
    public static let crmCapture = RateLimitClass(name: "crm.capture", subject: .clientIP, routes: "POST /api/crm/capture")
    public static let aiAsk = RateLimitClass(name: "ai.ask", subject: .caller, routes: "POST /api/ecosire-ai/ask")
    public static let licenseValidate = RateLimitClass(
        name: "license.validate", subject: .clientIP, routes: "POST /api/licenses/validate (per license key + IP)")
    public static let licenseActivate = RateLimitClass(
        name: "license.activate", subject: .clientIP, routes: "POST /api/licenses/activate (per license key + IP)")
    public static let newsletter = RateLimitClass(name: "newsletter", subject: .clientIP, routes: "POST /api/newsletter/subscribe")

    /// The table of the spec, in its order.
    public static let all: [RateLimitClass] = [
        support, crmCapture, aiAsk, licenseValidate, licenseActivate, newsletter, standard, login, auth, authEmail,
    ]

    /// The spec's default requests per minute.
    var defaultLimit: Int {
        switch name {
        case "support", "newsletter": 5
        case "crm.capture", "license.activate", "login": 10
        case "ai.ask", "auth.email": 20
        case "auth": 30
        case "license.validate": 30
        default: 100
        }
    }
}

/// Limits and plan quotas, read from configuration (`RATE_LIMIT_DEFAULT=100`, `QUOTA_FREE=1000`, …).
public struct RateLimitSettings: Sendable {
    /// `RATE_LIMIT_ENABLED=false` turns per-route limits and quotas off (benchmarks compare with it).
    public var enabled: Bool
    /// Window length in seconds for every class (`RATE_LIMIT_WINDOW`, default 60).
    public var windowSeconds: Int
    private var limits: [String: Int]
    /// Calls per UTC day by plan; nil is unlimited.
    private var quotas: [String: Int?]

    public init(reader: ConfigReader) {
        enabled = reader.bool(forKey: "rate.limit.enabled", default: true)
        windowSeconds = max(1, reader.int(forKey: "rate.limit.window", default: 60))
        var limits: [String: Int] = [:]
        for rateClass in RateLimitClass.all {
            var fallback = rateClass.defaultLimit
            // The login limit's first name, kept for existing deployments.
            if rateClass == .login { fallback = reader.int(forKey: "login.limit.per.minute", default: fallback) }
            limits[rateClass.name] = max(1, reader.int(forKey: ConfigKey("rate.limit." + rateClass.name), default: fallback))
        }
        self.limits = limits
        var quotas: [String: Int?] = [:]
        for (plan, fallback) in [("free", 1_000), ("pro", 100_000), ("enterprise", 0)] {
            let value = reader.int(forKey: ConfigKey("quota." + plan), default: fallback)
            quotas[plan] = value > 0 ? value : nil
        }
        self.quotas = quotas
    }

    /// Requests allowed per window for `rateClass`.
    public func limit(for rateClass: RateLimitClass) -> Int { limits[rateClass.name] ?? rateClass.defaultLimit }

    /// Calls per UTC day for `plan`; nil is unlimited (unknown plans get the free quota).
    public func dailyQuota(plan: String) -> Int? {
        if let quota = quotas[plan] { return quota }
        return quotas["free"] ?? nil
    }

    /// The plans and their quotas, for the documentation.
    public var planQuotas: [(plan: String, quota: Int?)] {
        ["free", "pro", "enterprise"].map { ($0, dailyQuota(plan: $0)) }
    }
}
