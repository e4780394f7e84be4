/// Webhook endpoints, described as data for the resource helper. The signing secrets live in
/// columns the helper does not return (`secret_sealed`, `previous_secret_sealed`): they are shown
/// once, by create and rotate-secret.
enum WebhookEndpointResource {
    static let disabledReasons = ["gone", "failing", "manual"]

    static let example: JSONValue = [
        "url": "https://example.com/webhooks/ecosire", "events": ["license.activated", "checkout.session.completed"],
        "description": "Production receiver",
    ]

    static let fields: [ResourceField] = [
        ResourceField(
            "url",
            schema: Schema.string(minLength: 1, maxLength: 2048, format: "uri").matching("^[Hh][Tt][Tt][Pp][Ss]?://").describe(
                "http(s) URL receiving POSTs; private, loopback and link-local addresses are refused"), required: true),
        ResourceField(
            "events",
            schema: {
                var schema = Schema.array(Schema.string(minLength: 1, maxLength: 100), maxItems: 100)
                schema.minItems = 1
                return schema.describe("Event types to receive (see GET /api/webhooks/events), or [\"*\"] for all")
            }(), storage: .json, default: ["*"]),
        ResourceField("description", schema: Schema.string(maxLength: 500)),
        ResourceField("active", schema: Schema.boolean.describe("Whether events are delivered"), storage: .boolean, default: true),
        ResourceField(
            "disabledReason",
            schema: Schema.enumeration(disabledReasons).describe(
                "Why the endpoint is inactive: gone (it answered 410), failing (five days without a successful delivery) or manual"),
            writable: false),
        ResourceField(
            "failingSince", schema: Schema.dateTime.describe("Start of the current run of failed deliveries"), storage: .timestamp,
            writable: false),
        ResourceField(
            "previousSecretExpiresAt",
            schema: Schema.dateTime.describe("Until when the secret replaced by the last rotation still signs deliveries"),
            storage: .timestamp, writable: false),
    ]

    static let resource = Resource(
        singular: "WebhookEndpoint", plural: "WebhookEndpoints", tag: "Webhooks", path: "/api/webhooks/endpoints",
        table: "webhook_endpoints", fields: fields, sortable: ["createdAt", "updatedAt", "url"], searchable: ["url", "description"],
        filters: [.boolean("active", column: "active", description: "Only active (or only inactive) endpoints")],
        example: example,
        prepare: { values, write in
            // Re-enabling clears why it was off; switching it off by hand records that.
            guard let active = values["active"]?.boolValue else { return }
            if active {
                values["disabledReason"] = .null
                values["failingSince"] = .null
            } else if write.before?["active"]?.boolValue != false {
                values["disabledReason"] = "manual"
            }
        }
    )
}
