import Configuration
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Closes the database after the HTTP server has drained (services stop in reverse order).
struct DatabaseService: Service {
    let database: any Database
    func run() async throws {
        try? await gracefulShutdown()
        try await database.shutdown()
    }
}

/// Opens the configured database.
public func openDatabase(_ config: AppConfiguration, logger: Logger) async throws -> any Database {
    if let path = config.sqlitePath {
        return try await SQLiteStorage.open(path: path, logger: logger)
    }
    return try PostgresStorage.open(url: config.databaseURL, schema: config.databaseSchema, logger: logger)
}

/// Every module's migrations in dependency order.
func allMigrations() -> [Migration] {
    IdentityMigrations.all + PlatformMigrations.all + ContactsMigrations.all + ProductsMigrations.all + SearchMigrations.all
        + LicensesMigrations.all
        + OrdersMigrations.all + InvoicesMigrations.all + BillingMigrations.all + HelpdeskMigrations.all + CRMMigrations.all
        + NewsletterMigrations.all + KnowledgeMigrations.all + StatusMigrations.all
}

/// Builds the whole server. `main` and the tests share this.
public func buildApplication(
    _ config: AppConfiguration, clock: WallClock = .system, logger: Logger? = nil
) async throws -> some ApplicationProtocol {
    var baseLogger = logger ?? Logger(label: "ecosire")
    baseLogger.logLevel = config.logLevel
    let logger = baseLogger
    MetricsRegistry.bootstrapOnce()

    let database = try await openDatabase(config, logger: logger)
    let migrations = allMigrations()
    if config.runMigrations {
        try await MigrationRunner(migrations: migrations).migrate(database, logger: logger)
    }
    let platform = try await makePlatform(config, database: database, clock: clock, logger: logger)
    // Held before the first request can claim anything under it.
    try await platform.lease.renew()

    let router = Router(context: AppRequestContext.self)
    let api = APIRouter(router: router, authenticator: platform.authenticator, access: platform.accessLayer())
    router.add(middleware: RequestMiddleware(tls: config.secureCookies))
    // Outside the problem middleware, so an error answer is timed and labelled with its status
    // like any other response.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ProblemMiddleware { [api] path in api.allowedMethods(for: path) })
    if !config.corsOrigins.isEmpty {
        router.add(
            middleware: CORSMiddleware(
                allowOrigin: config.corsOrigins == ["*"] ? .all : .custom(config.corsOrigins.joined(separator: ", ")),
                allowHeaders: [.authorization, .contentType, .xRequestID, .xCSRFToken], allowMethods: [.get, .post, .patch, .delete, .put],
                allowCredentials: config.corsOrigins != ["*"]))
    }

    try registerModules(platform: platform, api: api)
    if let sqlite = database as? SQLiteStorage {
        // After the modules have registered their resources: their stored JSON and counts.
        try await sqlite.documents.install(on: sqlite, write: config.runMigrations)
    }

    var app = Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestHandler(tls: config.secureCookies)])),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "Ecosire"),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            logger.notice("Ecosire is listening", metadata: ["url": .string("http://\(config.host):\(port)")])
        },
        logger: logger
    )
    // Services stop in reverse order, after the HTTP server: usage is flushed before the database closes.
    app.addServices(
        DatabaseService(database: database),
        platform.lease,
        Housekeeping(
            database: database, clock: clock, auditRetentionDays: config.auditRetentionDays,
            webhookLogRetentionDays: config.webhooks.logRetentionDays, logger: logger),
        platform.usage,
        platform.licenseValidations,
        platform.webhooks,
        platform.mailer,
        StatusSampler(database: database, clock: clock, config: config, logger: logger)
    )
    return app
}

/// The shared services, with the signing key from `JWT_PRIVATE_KEY` or `$DATA_DIR/jwt-ed25519.pem`.
func makePlatform(_ config: AppConfiguration, database: any Database, clock: WallClock, logger: Logger) async throws -> Platform {
    let tokens = try await TokenService.load(
        pem: config.jwtPrivateKey, keyFile: (config.dataDirectory as NSString).appendingPathComponent("jwt-ed25519.pem"),
        lifetime: config.accessTokenLifetime, logger: logger
    )
    let apiKeys = APIKeyVerifier(database: database, clock: clock, cacheTTL: config.apiKeyCacheSeconds)
    let limiter: any RateLimiter =
        database.dialect == .postgres ? DatabaseRateLimiter(database: database, clock: clock) : InMemoryRateLimiter(clock: clock)
    let licenseSignatures = try LicenseSignatures.load(config, clock: clock, logger: logger)
    let secrets = try SecretBox.load(config, logger: logger)
    return Platform(
        config: config, database: database, clock: clock, tokens: tokens, passwords: PasswordHasher(cost: config.bcryptCost),
        limiter: limiter,
        authenticator: Authenticator(tokens: tokens, trustedOrigins: config.trustedOrigins, apiKeys: apiKeys),
        apiKeys: apiKeys,
        usage: APIKeyUsageRecorder(database: database, interval: .milliseconds(config.usageFlushMillis), logger: logger),
        plans: PlanDirectory(database: database, clock: clock),
        licenseSignatures: licenseSignatures,
        licenseValidations: LicenseValidationLog(
            database: database, clock: clock, interval: .milliseconds(config.usageFlushMillis), logger: logger),
        secrets: secrets,
        webhooks: WebhookDeliveryWorker(
            database: database, clock: clock, settings: config.webhooks, secrets: secrets, licenseSignatures: licenseSignatures,
            logger: logger),
        mailer: EmailDeliveryWorker(database: database, clock: clock, settings: config.email, secrets: secrets, logger: logger),
        lease: ProcessLease(database: database, clock: clock, logger: logger),
        logger: logger
    )
}

/// Every module, registered on `api`. The one list of what the server contains.
func registerModules(platform: Platform, api: APIRouter) throws {
    let pages = try PageRenderer()
    let documents = DocumentCache()
    let licenses = LicenseService(database: platform.database, clock: platform.clock)
    let catalog = ProductCatalog(database: platform.database)
    let contacts = ContactDirectory(clock: platform.clock)
    let invoices = InvoicesModule(platform: platform, contacts: contacts)
    let orders = OrdersModule(platform: platform, licenses: licenses, catalog: catalog, contacts: contacts, invoices: invoices.service)
    let modules: [any Module] = [
        IdentityModule(platform: platform),
        APIKeysModule(platform: platform),
        ContactsModule(platform: platform, references: ContactReference.all),
        ProductsModule(platform: platform, licenses: licenses),
        LicensesModule(
            platform: platform, service: licenses, signatures: platform.licenseSignatures, catalog: catalog,
            validations: platform.licenseValidations),
        orders,
        invoices,
        BillingModule(
            platform: platform,
            events: StripeEvents(
                orders: orders.service, licenses: licenses, catalog: catalog, contacts: contacts, clock: platform.clock,
                logger: platform.logger),
            catalog: catalog),
        OperationsModule(platform: platform, migrations: MigrationRunner(migrations: allMigrations()), startedAt: platform.clock.now()),
        NotificationsModule(platform: platform),
        HelpdeskModule(platform: platform, contacts: contacts),
        CRMModule(platform: platform, contacts: contacts),
        NewsletterModule(platform: platform),
        KnowledgeModule(platform: platform),
        EmailModule(platform: platform),
        DocsModule(platform: platform, api: api, cache: documents),
        APIReferenceModule(pages: pages, api: api, documents: documents),
        DeveloperPortalModule(platform: platform, pages: pages),
        DashboardModule(platform: platform, pages: pages),
        StatusModule(platform: platform, pages: pages),
    ]
    for module in modules { module.register(on: api) }
    WebhooksModule(platform: platform, catalog: EventCatalog(modules.flatMap(\.eventTypes))).register(on: api)
}

/// The OpenAPI document of the server, built without a server or the operator's database (for
/// `ecosire openapi` and the export test): a throwaway SQLite file and signing key stand in.
public func buildOpenAPIDocument() async throws -> OpenAPIDocumentBuilder {
    let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent("ecosire-openapi-\(UUIDv7.generate())")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let config = AppConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: ["data.dir": .init(stringLiteral: scratch)])))
    var logger = Logger(label: "ecosire")
    logger.logLevel = .error
    let database = try await openDatabase(config, logger: logger)
    let platform = try await makePlatform(config, database: database, clock: .system, logger: logger)
    let api = APIRouter(
        router: Router(context: AppRequestContext.self), authenticator: platform.authenticator, access: platform.accessLayer())
    try registerModules(platform: platform, api: api)
    try await database.shutdown()
    return OpenAPIDocumentBuilder(operations: api.operations)
}
