import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SQLKit

/// The shared services every module is built with. Passed through `init`; there is no container.
public struct Platform: Sendable {
    public let config: AppConfiguration
    public let database: any Database
    public let clock: WallClock
    public let tokens: TokenService
    public let passwords: PasswordHasher
    /// In memory with SQLite (one process); in the database with PostgreSQL (shared by instances).
    public let limiter: any RateLimiter
    public let authenticator: Authenticator
    public let apiKeys: APIKeyVerifier
    public let usage: APIKeyUsageRecorder
    public let plans: PlanDirectory
    /// Signs license answers and checks signed license requests.
    public let licenseSignatures: LicenseSignatures
    /// Batches `license.validated` events (validate is read-only on the request path).
    public let licenseValidations: LicenseValidationLog
    /// Encrypts secrets the server must read back (webhook signing secrets).
    public let secrets: SecretBox
    /// Delivers the outbox to webhook endpoints.
    public let webhooks: WebhookDeliveryWorker
    /// Sends the email outbox through SMTP.
    public let mailer: EmailDeliveryWorker
    /// This process's lease, named by the work it claims (idempotency keys in progress).
    public let lease: ProcessLease
    public let logger: Logger

    /// The checks every operation passes through.
    public func accessLayer() -> AccessLayer {
        AccessLayer(
            limiter: limiter, settings: config.rateLimits, plans: plans,
            idempotency: IdempotencyStore(database: database, clock: clock, lease: lease),
            usage: usage, clock: clock, clientIP: { request, context in clientIP(request, context) }
        )
    }

    /// Counts one request against each of `limits` (class and subject) beside the operation's own
    /// limit, which the access layer counted already (`context.rateLimit`), for subjects known only
    /// once the body is read: the email of an account route, the license key of a license route. Throws the 429 of a refused limit;
    /// returns the tightest decision, whose headers the answer carries.
    public func enforceLimits(_ limits: [(RateLimitClass, subject: String)], context: AppRequestContext) async throws
        -> RateLimitDecision?
    {
        let settings = config.rateLimits
        guard settings.enabled else { return context.rateLimit }
        var tightest = context.rateLimit
        for (rateClass, subject) in limits {
            let decision = try await limiter.hit(
                key: "rate:\(rateClass.name):\(subject)", limit: settings.limit(for: rateClass), window: settings.windowSeconds)
            guard decision.allowed else {
                throw decision.rejection(now: Int64(clock.now().timeIntervalSince1970), policy: rateClass.name)
            }
            tightest = tightest.map { $0.tighter(decision) } ?? decision
        }
        return tightest
    }

    /// The organization that owns public intake: `SITE_ORGANIZATION_ID`, else the oldest
    /// organization (the first one registered). A 503 while there is none.
    public func siteOrganizationID(_ sql: any SQLDatabase) async throws -> String {
        let row: (any SQLRow)?
        if let configured = config.siteOrganizationID {
            row = try await sql.raw("SELECT id FROM organizations WHERE id = \(bind: configured)").first()
        } else {
            row = try await sql.raw("SELECT id FROM organizations ORDER BY created_at, id LIMIT 1").first()
        }
        guard let row else {
            throw APIError(
                .serviceUnavailable, code: "NOT_CONFIGURED",
                message: "Public intake has no organization yet (register one, or set SITE_ORGANIZATION_ID)")
        }
        return try row.decode(column: "id", as: String.self)
    }

    /// The client address: the TCP peer, or the first untrusted hop of `X-Forwarded-For` when the
    /// peer is a configured trusted proxy.
    public func clientIP(_ request: Request, _ context: AppRequestContext) -> String {
        let peer = context.remoteAddress?.ipAddress ?? "unknown"
        guard config.trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor] else { return peer }
        let hops = forwarded.split(separator: ",").map { String($0.trimmingBlanks()) }
        return hops.reversed().first { !config.trustedProxies.contains($0) } ?? peer
    }
}

/// A business module: its routes and the event types it emits. Its migrations are listed in
/// `allMigrations()`.
protocol Module: Sendable {
    func register(on api: APIRouter)
    /// What it writes to the outbox, for the event catalog.
    var eventTypes: [EventType] { get }
}

extension Module {
    var eventTypes: [EventType] { [] }
}

/// The documented rate-limit headers.
enum RateLimitHeaders {
    static let documented: [String: String] = [
        "X-RateLimit-Limit": "Requests allowed in the window",
        "X-RateLimit-Remaining": "Requests left in the window",
        "X-RateLimit-Reset": "Unix time (seconds) when the window resets",
        "RateLimit": "IETF draft: `limit=N, remaining=N, reset=seconds`",
        "RateLimit-Policy": "IETF draft: `limit;w=window-seconds`",
    ]
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
