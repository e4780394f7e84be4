import Configuration
import Foundation
import Logging

/// Everything the server reads from its environment. Keys are read through swift-configuration,
/// so `database.url` is the `DATABASE_URL` environment variable and tests pass the same keys in memory.
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// `sqlite:///path`, a bare path, or `postgres://…`.
    public var databaseURL: String
    /// PostgreSQL schema for this process (tests use one per test).
    public var databaseSchema: String?
    public var dataDirectory: String
    public var runMigrations: Bool
    public var jwtPrivateKey: String?
    public var accessTokenLifetime: TimeInterval
    public var refreshTokenLifetime: TimeInterval
    public var bcryptCost: UInt8
    public var secureCookies: Bool
    public var trustedOrigins: Set<String>
    /// Peers whose `X-Forwarded-For` is believed.
    public var trustedProxies: Set<String>
    public var corsOrigins: [String]
    public var swaggerUIDirectory: String?
    public var logLevel: Logger.Level
    public var logFormat: String
    /// Per-route limits and plan quotas.
    public var rateLimits: RateLimitSettings
    /// How long a verified API key is trusted before it is re-read (bounds revocation staleness
    /// across instances).
    public var apiKeyCacheSeconds: Double
    /// How often API-key usage is written.
    public var usageFlushMillis: Int
    /// How long the audit log of live keys is kept.
    public var auditRetentionDays: Int
    /// `ECOSIRE_LICENSE_SECRET`: HMAC key of license request and response signatures and of
    /// `X-License-Signature`; generated and kept in the data directory when unset.
    public var licenseSecret: String?
    /// `LICENSE_SIGNATURE_REQUIRED=true` refuses unsigned validate/activate/deactivate requests.
    public var licenseSignatureRequired: Bool
    /// `LICENSE_SIGNING_KEY`: Ed25519 private key (PEM) for offline-verifiable license answers;
    /// generated and kept in the data directory when unset.
    public var licenseSigningKey: String?
    /// `STRIPE_WEBHOOK_SECRET` (`whsec_…`): verifies `Stripe-Signature` on incoming events.
    public var stripeWebhookSecret: String?
    /// `STRIPE_SECRET_KEY` (`sk_…`): calls Stripe's API (checkout sessions, subscriptions, payment methods).
    public var stripeSecretKey: String?
    /// `STRIPE_API_BASE`: Stripe's API origin (tests point it at a local server).
    public var stripeAPIBase: String
    /// Largest product file upload, 50 MiB by default.
    public var uploadLimitBytes: Int
    /// `SECRETS_KEY`: base64 of 32 bytes that encrypts stored webhook secrets; generated and kept in
    /// the data directory when unset.
    public var secretsKey: String?
    /// Outgoing webhook delivery.
    public var webhooks: WebhookSettings
    /// Outgoing email.
    public var email: EmailSettings
    /// `PUBLIC_URL`: the server's address as its users reach it, for links in emails
    /// (`http://HOST:PORT` by default).
    public var publicURL: String
    /// `SITE_ORGANIZATION_ID`: the organization that receives public intake (support requests,
    /// captured leads, newsletter sign-ups); the oldest organization when unset.
    public var siteOrganizationID: String?
    /// The OpenAI-compatible chat endpoint that writes answers of `POST /api/ecosire-ai/ask`.
    public var ai: AISettings
    /// `STATUS_SAMPLE_SECONDS`: how often component status is sampled for `/api/status` (60,
    /// at most 60 so every minute gets a sample; 0 turns the sampler off on this instance).
    public var statusSampleSeconds: Int

    public init(reader: ConfigReader) {
        dataDirectory = reader.string(forKey: "data.dir", default: "./data")
        host = reader.string(forKey: "host", default: "127.0.0.1")
        port = reader.int(forKey: "port", default: 8080)
        databaseURL = reader.string(forKey: "database.url", default: "sqlite://\(dataDirectory)/ecosire.sqlite")
        databaseSchema = reader.string(forKey: "database.schema")
        runMigrations = reader.bool(forKey: "migrate.on.start", default: true)
        jwtPrivateKey = reader.string(forKey: "jwt.private.key", isSecret: true)
        accessTokenLifetime = TimeInterval(reader.int(forKey: "access.token.ttl", default: 900))
        refreshTokenLifetime = TimeInterval(reader.int(forKey: "refresh.token.ttl", default: 30 * 24 * 3600))
        bcryptCost = UInt8(clamping: max(4, reader.int(forKey: "bcrypt.cost", default: 12)))
        secureCookies = reader.bool(forKey: "secure.cookies", default: false)
        trustedOrigins = Set(Self.list(reader.string(forKey: "trusted.origins")))
        trustedProxies = Set(Self.list(reader.string(forKey: "trusted.proxies")))
        corsOrigins = Self.list(reader.string(forKey: "cors.origins"))
        swaggerUIDirectory = reader.string(forKey: "swagger.ui.dir")
        logLevel = reader.string(forKey: "log.level").flatMap(Logger.Level.init(rawValue:)) ?? .info
        logFormat = reader.string(forKey: "log.format", default: "text")
        rateLimits = RateLimitSettings(reader: reader)
        apiKeyCacheSeconds = reader.double(forKey: "api.key.cache.seconds", default: 1)
        usageFlushMillis = max(10, reader.int(forKey: "usage.flush.millis", default: 1000))
        auditRetentionDays = max(1, reader.int(forKey: "audit.retention.days", default: 90))
        licenseSecret = reader.string(forKey: "ecosire.license.secret", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        licenseSignatureRequired = reader.bool(forKey: "license.signature.required", default: false)
        licenseSigningKey = reader.string(forKey: "license.signing.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        stripeWebhookSecret = reader.string(forKey: "stripe.webhook.secret", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        stripeSecretKey = reader.string(forKey: "stripe.secret.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        stripeAPIBase = reader.string(forKey: "stripe.api.base", default: "https://api.stripe.com")
        uploadLimitBytes = max(1024, reader.int(forKey: "upload.limit.bytes", default: 50 << 20))
        secretsKey = reader.string(forKey: "secrets.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        webhooks = WebhookSettings(reader: reader)
        email = EmailSettings(reader: reader)
        let publicURL = reader.string(forKey: "public.url", default: "http://\(host):\(port)")
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        siteOrganizationID = reader.string(forKey: "site.organization.id").flatMap { $0.isEmpty ? nil : $0.lowercased() }
        ai = AISettings(reader: reader)
        statusSampleSeconds = min(60, max(0, reader.int(forKey: "status.sample.seconds", default: 60)))
    }

    private static func list(_ value: String?) -> [String] {
        (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The SQLite file path when the database is SQLite, else nil.
    public var sqlitePath: String? {
        if databaseURL.hasPrefix("postgres://") || databaseURL.hasPrefix("postgresql://") { return nil }
        if databaseURL.hasPrefix("sqlite://") { return String(databaseURL.dropFirst("sqlite://".count)) }
        return databaseURL
    }
}

/// How webhooks are delivered (`WEBHOOK_*` variables).
public struct WebhookSettings: Sendable {
    /// `WEBHOOK_ALLOW_PRIVATE_URLS=true` lets endpoints point at loopback and private networks
    /// (development and tests only).
    public var allowPrivateURLs: Bool
    /// `WEBHOOK_TIMEOUT_SECONDS`: how long one attempt may take (15).
    public var timeoutSeconds: Int
    /// `WEBHOOK_CONCURRENCY`: attempts in flight at once per instance (64).
    public var concurrency: Int
    /// `WEBHOOK_ENDPOINT_CONCURRENCY`: of those, at most this many for one endpoint (an eighth);
    /// `WEBHOOK_ORGANIZATION_CONCURRENCY`: at most this many for one organization's endpoints (a
    /// quarter). A receiver that stalls holds its share, not every slot.
    public var endpointConcurrency: Int
    public var organizationConcurrency: Int
    /// `WEBHOOK_POLL_MILLIS`: how often an idle worker looks for new events and due retries (100).
    public var pollMillis: Int
    /// `WEBHOOK_LEASE_SECONDS`: how long a claimed delivery is reserved for its worker; after a
    /// crash, another worker retries it once the lease runs out (timeout + 45 by default).
    public var leaseSeconds: Int
    /// `WEBHOOK_WORKER=false` runs an instance without the delivery worker.
    public var workerEnabled: Bool
    /// `WEBHOOK_LOG_RETENTION_DAYS`: how long finished deliveries and their attempts are kept (30).
    public var logRetentionDays: Int

    public init(reader: ConfigReader) {
        allowPrivateURLs = reader.bool(forKey: "webhook.allow.private.urls", default: false)
        timeoutSeconds = min(60, max(1, reader.int(forKey: "webhook.timeout.seconds", default: 15)))
        concurrency = min(1024, max(1, reader.int(forKey: "webhook.concurrency", default: 64)))
        endpointConcurrency = min(
            concurrency, max(1, reader.int(forKey: "webhook.endpoint.concurrency", default: max(concurrency / 8, min(4, concurrency)))))
        organizationConcurrency = min(
            concurrency, max(endpointConcurrency, reader.int(forKey: "webhook.organization.concurrency", default: max(1, concurrency / 4))))
        pollMillis = min(10_000, max(10, reader.int(forKey: "webhook.poll.millis", default: 100)))
        leaseSeconds = max(timeoutSeconds + 2, reader.int(forKey: "webhook.lease.seconds", default: timeoutSeconds + 45))
        workerEnabled = reader.bool(forKey: "webhook.worker", default: true)
        logRetentionDays = max(1, reader.int(forKey: "webhook.log.retention.days", default: 30))
    }
}

/// The answer writer of the AI endpoint (`AI_*` variables). Without `AI_BASE_URL` answers are the
/// retrieved passages themselves.
public struct AISettings: Sendable {
    /// `AI_BASE_URL`: an OpenAI-compatible API root (`https://api.openai.com/v1`); `/chat/completions` is appended.
    public var baseURL: String?
    /// `AI_API_KEY`: sent as a bearer token.
    public var apiKey: String?
    /// `AI_MODEL` (`gpt-4o-mini`).
    public var model: String
    /// `AI_TIMEOUT_SECONDS` (30).
    public var timeoutSeconds: Int

    public init(reader: ConfigReader) {
        let base = reader.string(forKey: "ai.base.url").flatMap { $0.isEmpty ? nil : $0 }
        baseURL = base.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        apiKey = reader.string(forKey: "ai.api.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        model = reader.string(forKey: "ai.model", default: "gpt-4o-mini")
        timeoutSeconds = min(300, max(1, reader.int(forKey: "ai.timeout.seconds", default: 30)))
    }
}
