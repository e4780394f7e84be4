/// The documented shapes of the API-keys resource (snake_case, as the Eazip contract has them).
enum APIKeySchemas {
    static let key = Schema.object(keyProperties).named("ApiKey")

    private static var keyProperties: [Schema.Property] {
        [
            .init("id", Schema.uuid.asReadOnly(), required: true),
            .init("name", Schema.string(maxLength: 255).orNull(), required: true),
            .init("prefix", Schema.string().describe("The first 12 characters of the key, to recognise it"), required: true),
            .init("scope", .enumeration(KeyScope.allCases.map(\.rawValue)), required: true),
            .init("environment", .enumeration(["live", "test"]), required: true),
            .init("created_at", Schema.dateTime, required: true),
            .init("expires_at", Schema.dateTime.orNull(), required: true),
            .init("last_used_at", Schema.dateTime.orNull(), required: true),
            .init("revoked_at", Schema.dateTime.orNull(), required: true),
            .init("rotated_from", Schema.uuid.orNull().describe("The key this one replaced"), required: true),
            .init(
                "usage",
                .object([
                    .init("total_requests", .integer(minimum: 0), required: true),
                    .init("total_errors", .integer(minimum: 0), required: true),
                ]),
                required: true
            ),
        ]
    }

    /// The key with its secret, as create and rotate answer.
    static let keyWithSecret = Schema.object(
        keyProperties + [.init("key", Schema.string().describe("The secret: shown only in this response"), required: true)]
    ).named("ApiKeyWithSecret")

    static let create = Schema.object([
        .init("name", Schema.string(maxLength: 255).orNull().describe("A descriptive label. Max 255 characters.")),
        .init(
            "expires_at", Schema.dateTime.orNull().describe("ISO 8601 date-time after which the key stops working; must be in the future")),
        .init("scope", Schema.enumeration(KeyScope.allCases.map(\.rawValue)).describe("Default read_write")),
        .init("environment", Schema.enumeration(["live", "test"]).describe("Default live; live keys' requests are audited")),
    ]).named("CreateApiKeyRequest")

    static let list = Schema.object([
        .init("success", .boolean, required: true), .init("api_keys", .array(key), required: true),
    ]).named("ApiKeyList")

    static let single = Schema.object([.init("success", .boolean, required: true), .init("api_key", key, required: true)])
        .named("ApiKeyResponse")

    static let created = Schema.object([.init("success", .boolean, required: true), .init("api_key", keyWithSecret, required: true)])
        .named("CreatedApiKeyResponse")

    static let message = Schema.object([.init("success", .boolean, required: true), .init("message", .string(), required: true)])
        .named("ApiKeyMessage")

    private static let usageDay = Schema.object([
        .init("date", .string(format: "date"), required: true),
        .init("requests", .integer(minimum: 0), required: true),
        .init("errors", .integer(minimum: 0), required: true),
        .init("error_rate", .number, required: true),
    ])

    static let usage = Schema.object([
        .init("success", .boolean, required: true),
        .init(
            "usage",
            .object([
                .init("key_id", .uuid, required: true),
                .init("from", .string(format: "date"), required: true),
                .init("to", .string(format: "date"), required: true),
                .init("last_used_at", Schema.dateTime.orNull(), required: true),
                .init("total_requests", .integer(minimum: 0), required: true),
                .init("total_errors", .integer(minimum: 0), required: true),
                .init("error_rate", .number, required: true),
                .init("days", .array(usageDay), required: true),
            ]),
            required: true
        ),
    ]).named("ApiKeyUsage")

    private static let auditEntry = Schema.object([
        .init("id", .uuid, required: true),
        .init("occurred_at", .dateTime, required: true),
        .init("method", .string(), required: true),
        .init("path", .string(), required: true),
        .init("status", .integer(), required: true),
        .init("ip", .string(), required: true),
        .init("latency_ms", .integer(minimum: 0), required: true),
        .init("request_id", .string(), required: true),
    ])

    static let audit = Schema.object([
        .init("success", .boolean, required: true),
        .init("audit", .array(auditEntry), required: true),
        .init(
            "meta",
            .object([
                .init("total", .integer(minimum: 0), required: true), .init("page", .integer(minimum: 1), required: true),
                .init("limit", .integer(minimum: 1), required: true), .init("total_pages", .integer(minimum: 0), required: true),
            ]),
            required: true
        ),
    ]).named("ApiKeyAudit")
}
