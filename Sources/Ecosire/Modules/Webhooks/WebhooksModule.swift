import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// Outgoing webhooks: endpoints (secret shown once, rotation with overlap), the event catalog,
/// delivery logs, redelivery, test events, the cURL generator and the signature verifier. The
/// delivery itself is `WebhookDeliveryWorker`'s.
struct WebhooksModule: Module {
    let platform: Platform
    let catalog: EventCatalog
    let store: ResourceStore
    let guardian: OutboundURLGuard

    init(platform: Platform, catalog: EventCatalog) {
        self.platform = platform
        self.catalog = catalog
        self.store = ResourceStore(resource: WebhookEndpointResource.resource, database: platform.database, clock: platform.clock)
        self.guardian = OutboundURLGuard(allowPrivate: platform.config.webhooks.allowPrivateURLs)
    }

    /// How long a replaced secret keeps signing.
    static let rotationOverlapMillis: Int64 = 24 * 3_600_000
    static let admin = Access.authenticated(minimumRole: .admin)

    // MARK: Schemas

    static var endpoint: Schema { WebhookEndpointResource.resource.recordSchema }

    static let endpointWithSecret = Schema.object(
        endpoint.properties + [
            .init("secret", Schema.string().describe("whsec_…: shown only in this answer; store it to verify deliveries"), required: true)
        ]
    ).named("WebhookEndpointWithSecret")

    static let attempt = Schema.object([
        .init("id", Schema.uuid.describe("Sent as X-Ecosire-Delivery"), required: true),
        .init("attempt", .integer(minimum: 1), required: true),
        .init("attemptedAt", .dateTime, required: true), .init("durationMs", .integer(minimum: 0), required: true),
        .init("responseCode", Schema.integer().orNull(), required: true),
        .init("responseBody", Schema.string().describe("The first 1 KiB of the answer").orNull(), required: true),
        .init("error", Schema.string().orNull(), required: true), .init("succeeded", .boolean, required: true),
    ]).named("WebhookAttempt")

    static let deliveryStatuses = ["pending", "succeeded", "failed", "cancelled"]

    static let delivery = Schema.object([
        .init("id", .uuid, required: true), .init("endpointId", .uuid, required: true),
        .init("eventId", Schema.string().describe("Sent as webhook-id; the same on every attempt"), required: true),
        .init("eventType", .string(), required: true), .init("test", .boolean, required: true),
        .init(
            "status",
            Schema.enumeration(deliveryStatuses).describe(
                "pending (queued or waiting for a retry), succeeded, failed (attempts exhausted or 410), cancelled (endpoint disabled)"),
            required: true),
        .init("attempts", .integer(minimum: 0), required: true), .init("nextAttemptAt", Schema.dateTime.orNull(), required: true),
        .init("lastResponseCode", Schema.integer().orNull(), required: true), .init("lastError", Schema.string().orNull(), required: true),
        .init("deliveredAt", Schema.dateTime.orNull(), required: true), .init("createdAt", .dateTime, required: true),
        .init("updatedAt", .dateTime, required: true), .init("attemptLog", .array(attempt), required: true),
        .init("payload", Schema.string().describe("The exact body sent (single-delivery answers only)")),
    ]).named("WebhookDelivery")

    static let eventTypeSchema = Schema.object([
        .init("type", .string(), required: true), .init("description", .string(), required: true),
        .init("trigger", .string(), required: true),
        .init(
            "schema", Schema.object([], additional: .anyValue).describe("JSON schema of the whole event (OpenAPI 3.0 dialect)"),
            required: true),
        .init("example", Schema.object([], additional: .anyValue).describe("An example event, as delivered"), required: true),
    ]).named("WebhookEventType")

    // MARK: Routes

    func register(on api: APIRouter) {
        registerEndpoints(on: api)
        registerDeliveries(on: api)
        registerCatalog(on: api)
    }

    private func registerEndpoints(on api: APIRouter) {
        let resource = WebhookEndpointResource.resource
        let store = self.store
        let itemPath = resource.path + "/{id}"
        let idNote = "Endpoints of other organizations answer 404."
        api.add(
            Operation(
                .get, resource.path, id: "listWebhookEndpoints", tag: "Webhooks", summary: "List webhook endpoints", access: Self.admin,
                query: ListQuery.parameters(sortable: resource.sortable, searchable: resource.searchable)
                    + resource.filters.map(\.parameter),
                responses: [ResponseSpec(200, "One page of endpoints", schema: resource.listSchema)]
            )
        ) { input in
            let caller = try input.caller
            let query = ListQuery(input)
            let (page, total) = try await store.list(organizationID: caller.organizationID, query: query, filters: input.query)
            return PageMeta.envelope(page: page, total: total, query: query)
        }

        api.add(
            Operation(
                .post, resource.path, id: "createWebhookEndpoint", tag: "Webhooks", summary: "Create a webhook endpoint",
                description: "The answer carries the signing secret, shown this once.", access: Self.admin,
                body: .json(resource.createSchema, example: resource.example),
                responses: [
                    ResponseSpec(
                        201, "The endpoint and its secret", schema: Self.endpointWithSecret, headers: ["Location": "URL of the endpoint"])
                ],
                returnsSecret: true
            )
        ) { input in
            let caller = try input.caller
            let body = input.object
            try await checkTarget(body)
            let secret = WebhookSignatures.newSecret()
            let sealed = try platform.secrets.seal(secret)
            let record = try await platform.database.transaction { sql in
                let record = try await store.create(sql, organizationID: caller.organizationID, body: body)
                try await sql.raw(
                    "UPDATE webhook_endpoints SET secret_sealed = \(bind: sealed) WHERE id = \(bind: record["id"]?.stringValue ?? "")"
                )
                .run()
                return record
            }
            var shown = record.objectValue ?? JSONObject()
            shown["secret"] = .string(secret)
            return .created(.object(shown), location: "\(resource.path)/\(record["id"]?.stringValue ?? "")")
        }

        api.add(
            Operation(
                .get, itemPath, id: "getWebhookEndpoint", tag: "Webhooks", summary: "Get a webhook endpoint", description: idNote,
                access: Self.admin, responses: [ResponseSpec(200, "The endpoint", schema: Self.endpoint)]
            )
        ) { input in
            let caller = try input.caller
            guard let record = try await store.get(organizationID: caller.organizationID, id: input.path("id")) else {
                throw Self.endpointNotFound
            }
            return .json(record)
        }

        api.add(
            Operation(
                .patch, itemPath, id: "updateWebhookEndpoint", tag: "Webhooks", summary: "Update a webhook endpoint",
                description:
                    "Only the fields present change. Setting active to true re-enables an endpoint disabled by 410 or by failures. "
                    + idNote,
                access: Self.admin, body: .json(resource.updateSchema),
                responses: [ResponseSpec(200, "The updated endpoint", schema: Self.endpoint)]
            )
        ) { input in
            let caller = try input.caller
            let body = input.object
            try await checkTarget(body)
            guard let record = try await store.update(organizationID: caller.organizationID, id: input.path("id"), body: body) else {
                throw Self.endpointNotFound
            }
            return .json(record)
        }

        api.add(
            Operation(
                .delete, itemPath, id: "deleteWebhookEndpoint", tag: "Webhooks", summary: "Delete a webhook endpoint",
                description: "Its queued deliveries and delivery log go with it. " + idNote, access: Self.admin,
                responses: [ResponseSpec(204, "Deleted")]
            )
        ) { input in
            let caller = try input.caller
            guard try await store.delete(organizationID: caller.organizationID, id: input.path("id")) else { throw Self.endpointNotFound }
            return .noContent
        }

        api.add(
            Operation(
                .post, itemPath + "/rotate-secret", id: "rotateWebhookSecret", tag: "Webhooks", summary: "Rotate the signing secret",
                description:
                    "Answers the new secret, shown this once. For 24 hours deliveries carry a signature with each secret (two v1 values), so receivers can switch without missing events.",
                access: Self.admin, responses: [ResponseSpec(200, "The endpoint and its new secret", schema: Self.endpointWithSecret)],
                returnsSecret: true
            )
        ) { input in
            let caller = try input.caller
            let id = input.path("id")
            let secret = WebhookSignatures.newSecret()
            let sealed = try platform.secrets.seal(secret)
            let now = platform.clock.nowMillis()
            let record = try await platform.database.transaction { sql -> JSONValue in
                let rotated = try await sql.raw(
                    """
                    UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = \(bind: now + Self.rotationOverlapMillis),
                        secret_sealed = \(bind: sealed), updated_at = \(bind: now)
                    WHERE id = \(bind: id) AND organization_id = \(bind: caller.organizationID) RETURNING id
                    """
                ).first()
                guard rotated != nil, let record = try await store.fetch(sql, organizationID: caller.organizationID, id: id) else {
                    throw Self.endpointNotFound
                }
                return record
            }
            var shown = record.objectValue ?? JSONObject()
            shown["secret"] = .string(secret)
            return .json(.object(shown))
        }

        api.add(
            Operation(
                .post, itemPath + "/test", id: "sendWebhookTest", tag: "Webhooks", summary: "Send a test event",
                description:
                    "Queues the example payload of `type` (with a new event id and the current time) for this endpoint, whatever it subscribes to. Watch the delivery log for the outcome.",
                access: Self.admin,
                body: .json(
                    Schema.object([
                        .init("type", Schema.string(minLength: 1, maxLength: 100).describe("An event type of the catalog"), required: true)
                    ])
                    .named("WebhookTestRequest"), example: ["type": "license.activated"]),
                responses: [ResponseSpec(202, "The queued delivery", schema: Self.delivery)], errors: [409],
                codes: ["ENDPOINT_DISABLED"]
            )
        ) { input in
            let caller = try input.caller
            let typeName = input.object["type"]?.stringValue ?? ""
            guard let type = catalog[typeName] else {
                throw APIError.validation(field: "type", "Unknown event type; GET /api/webhooks/events lists them")
            }
            let endpointID = input.path("id")
            let now = platform.clock.nowMillis()
            let eventID = EventOutbox.newEventID()
            let payload = EventOutbox.envelope(id: eventID, type: type.type, created: now / 1000, object: type.example)
            let deliveryID = UUIDv7.generate()
            try await platform.database.transaction { sql in
                try await requireActiveEndpoint(sql, organizationID: caller.organizationID, id: endpointID)
                try await sql.raw(
                    """
                    INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, payload, test, status, attempts,
                        next_attempt_at, created_at, updated_at)
                    VALUES (\(bind: deliveryID), \(bind: caller.organizationID), \(bind: endpointID), \(bind: eventID), \(bind: type.type),
                        \(bind: payload.jsonString), \(bind: true), 'pending', 0, \(bind: now), \(bind: now), \(bind: now))
                    """
                ).run()
            }
            platform.webhooks.nudge()
            return .json(try await delivery(caller.organizationID, deliveryID, withPayload: true), status: .accepted)
        }
    }

    private func registerDeliveries(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/api/webhooks/endpoints/{id}/deliveries", id: "listWebhookDeliveries", tag: "Webhooks",
                summary: "An endpoint's delivery log",
                description:
                    "Deliveries newest first, each with its attempts (response code, duration, first 1 KiB of the answer) and next attempt.",
                access: Self.admin,
                query: Array(ListQuery.parameters(sortable: ["createdAt"], searchable: []).prefix(2)) + [
                    QueryParameter("status", .enumeration(Self.deliveryStatuses), "Only deliveries in this status"),
                    QueryParameter("eventType", Schema.string(minLength: 1, maxLength: 100), "Only deliveries of this event type"),
                ],
                responses: [
                    ResponseSpec(
                        200, "One page of deliveries",
                        schema: Schema.object([
                            .init("data", .array(Self.delivery), required: true), .init("meta", PageMeta.schema, required: true),
                        ])
                        .named("WebhookDeliveryList"))
                ]
            )
        ) { input in try await deliveries(input) }

        api.add(
            Operation(
                .get, "/api/webhooks/deliveries/{id}", id: "getWebhookDelivery", tag: "Webhooks", summary: "Get a delivery",
                description: "With its attempts and the exact payload sent.", access: Self.admin,
                responses: [ResponseSpec(200, "The delivery", schema: Self.delivery)]
            )
        ) { input in
            let caller = try input.caller
            return .json(try await delivery(caller.organizationID, input.path("id"), withPayload: true))
        }

        api.add(
            Operation(
                .post, "/api/webhooks/deliveries/{id}/retry", id: "retryWebhookDelivery", tag: "Webhooks", summary: "Redeliver",
                description:
                    "Queues one more attempt now, whatever the delivery's status (the same webhook-id, so receivers can deduplicate). 409 while an attempt is in flight or when the endpoint is disabled.",
                access: Self.admin, responses: [ResponseSpec(202, "The delivery, queued", schema: Self.delivery)], errors: [409],
                codes: ["ENDPOINT_DISABLED", "DELIVERY_IN_FLIGHT"]
            )
        ) { input in
            let caller = try input.caller
            let id = input.path("id")
            let now = platform.clock.nowMillis()
            try await platform.database.transaction { sql in
                guard
                    let row = try await sql.raw(
                        """
                        SELECT endpoint_id, status, lease_until FROM webhook_deliveries
                        WHERE id = \(bind: id) AND organization_id = \(bind: caller.organizationID)
                        """
                    ).first().map(DecodedColumns.init)
                else { throw Self.deliveryNotFound }
                try await requireActiveEndpoint(sql, organizationID: caller.organizationID, id: try row.text("endpoint_id"))
                // Conditional, so that a worker claiming it meanwhile keeps its lease.
                let queued = try await sql.raw(
                    """
                    UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = \(bind: now), lease_until = NULL, updated_at = \(bind: now)
                    WHERE id = \(bind: id) AND (lease_until IS NULL OR lease_until <= \(bind: now)) RETURNING id
                    """
                ).first()
                guard queued != nil else {
                    throw APIError.conflict("An attempt of this delivery is in flight", code: "DELIVERY_IN_FLIGHT")
                }
            }
            platform.webhooks.nudge()
            return .json(try await delivery(caller.organizationID, id, withPayload: true), status: .accepted)
        }
    }

    private func registerCatalog(on api: APIRouter) {
        // The catalog does not change while the server runs: its JSON (schemas included) is built once.
        let entries = Dictionary(uniqueKeysWithValues: catalog.types.map { ($0.type, Self.json($0)) })
        let listing = catalog.types.compactMap { entries[$0.type] }
        api.add(
            Operation(
                .get, "/api/webhooks/events", id: "listWebhookEventTypes", tag: "Webhooks", summary: "The event catalog",
                description:
                    "Every event type the server sends, with what triggers it, its JSON schema and an example payload, in catalog order and the standard {data, meta} envelope (`limit=100` reads the whole catalog in one page today).",
                access: .open, query: ListQuery.pageParameters,
                responses: [
                    ResponseSpec(
                        200, "One page of event types, in catalog order",
                        schema: Schema.object([
                            .init("data", .array(Self.eventTypeSchema), required: true), .init("meta", PageMeta.schema, required: true),
                        ]).named("WebhookEventTypeList"))
                ]
            )
        ) { input in .json(PageMeta.envelope(slicing: listing, query: ListQuery(input))) }

        api.add(
            Operation(
                .get, "/api/webhooks/events/{type}", id: "getWebhookEventType", tag: "Webhooks", summary: "One event type",
                access: .open, responses: [ResponseSpec(200, "The event type", schema: Self.eventTypeSchema)]
            )
        ) { input in
            guard let entry = entries[input.path("type")] else { throw APIError.notFound("Unknown event type") }
            return .json(entry)
        }

        api.add(
            Operation(
                .get, "/api/webhooks/events/{type}/curl", id: "getWebhookCurl", tag: "Webhooks",
                summary: "A signed cURL command posting the example event",
                description:
                    "Signed with the endpoint's current secret and the current time, so a receiver that checks timestamps accepts it for 5 minutes.",
                access: Self.admin, query: [QueryParameter("endpointId", .uuid, "The endpoint to post to", required: true)],
                responses: [
                    ResponseSpec(
                        200, "The command and its parts",
                        schema: Schema.object([
                            .init("command", .string(), required: true), .init("url", .string(), required: true),
                            .init("headers", Schema.object([], additional: .string()), required: true),
                            .init("payload", .string(), required: true),
                        ]).named("WebhookCurl"))
                ],
                errors: [409], codes: ["SECRET_UNREADABLE"]
            )
        ) { input in
            let caller = try input.caller
            guard let type = catalog[input.path("type")] else { throw APIError.notFound("Unknown event type") }
            let endpointID = input.query["endpointId"] ?? ""
            guard
                let row = try await platform.database.readRows(
                    """
                    SELECT url, secret_sealed FROM webhook_endpoints WHERE id = \(bind: endpointID) AND organization_id = \(bind: caller.organizationID)
                    """
                ).first
            else { throw Self.endpointNotFound }
            let url = try row.text("url")
            guard let secret = try? platform.secrets.open(row.text("secret_sealed")) else {
                throw APIError.conflict(
                    "The endpoint's signing secret cannot be decrypted with this server's SECRETS_KEY; rotate the secret",
                    code: "SECRET_UNREADABLE")
            }
            let now = platform.clock.nowMillis()
            let eventID = EventOutbox.newEventID()
            let payload = EventOutbox.envelope(id: eventID, type: type.type, created: now / 1000, object: type.example).jsonString
            let headers = WebhookSignatures.headers(
                eventType: type.type, attemptID: UUIDv7.generate(), messageID: eventID,
                timestamp: now / 1000, payload: Array(payload.utf8), secrets: [secret], licenseSecret: platform.licenseSignatures.secret)
            var command = "curl -X POST " + Self.shellQuoted(url)
            for (name, value) in headers { command += " \\\n  -H " + Self.shellQuoted("\(name): \(value)") }
            command += " \\\n  --data-raw " + Self.shellQuoted(payload)
            var headerObject = JSONObject()
            for (name, value) in headers { headerObject[name] = .string(value) }
            return .json(["command": .string(command), "url": .string(url), "headers": .object(headerObject), "payload": .string(payload)])
        }

        api.add(
            Operation(
                .post, "/api/webhooks/verify", id: "verifyWebhookSignature", tag: "Webhooks", summary: "Check a delivery's signature",
                description:
                    "Checks every signature header given (X-Ecosire-Signature and webhook-signature with an endpoint secret; X-License-Signature with ECOSIRE_LICENSE_SECRET) against the exact payload, and says why one fails.",
                body: .json(
                    Schema.object([
                        .init("payload", Schema.string(maxLength: 1_000_000).describe("The raw body, exactly as received"), required: true),
                        .init(
                            "headers", Schema.object([], additional: Schema.string(maxLength: 4096)).describe("The delivery's headers"),
                            required: true),
                        .init("secret", Schema.string(minLength: 1, maxLength: 512), required: true),
                    ]).named("WebhookVerifyRequest"),
                    example: [
                        "payload": "{\"id\":\"evt_1ABCxyz\",\"object\":\"event\"}",
                        "headers": [
                            "X-Ecosire-Signature": "t=1711000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
                        ],
                        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    ]),
                responses: [
                    ResponseSpec(
                        200, "The verdict",
                        schema: Schema.object([
                            .init(
                                "valid",
                                Schema.boolean.describe("True when at least one signature header was given and all of them verify"),
                                required: true),
                            .init("reason", Schema.string().orNull(), required: true),
                            .init(
                                "checks",
                                .array(
                                    Schema.object([
                                        .init("header", .string(), required: true), .init("valid", .boolean, required: true),
                                        .init("reason", Schema.string().orNull(), required: true),
                                    ])), required: true),
                        ]).named("WebhookVerification"))
                ]
            )
        ) { input in
            let body = input.object
            var headers: [String: String] = [:]
            for member in body["headers"]?.objectValue?.members ?? [] { headers[member.key] = member.value.stringValue ?? "" }
            let checks = WebhookSignatures.verify(
                payload: body["payload"]?.stringValue ?? "", headers: headers, secret: body["secret"]?.stringValue ?? "",
                licenseSecret: platform.licenseSignatures.secret, now: platform.clock.nowMillis() / 1000)
            let reason: String? =
                checks.isEmpty
                ? "No signature header was given (X-Ecosire-Signature, webhook-signature or X-License-Signature)"
                : checks.first { !$0.valid }.map { "\($0.header): \($0.reason ?? "invalid")" }
            return .json([
                "valid": .bool(!checks.isEmpty && checks.allSatisfy(\.valid)), "reason": reason.map { .string($0) } ?? .null,
                "checks": .array(checks.map(\.json)),
            ])
        }
    }

    // MARK: Helpers

    static let endpointNotFound = APIError.notFound("Webhook endpoint not found")
    static let deliveryNotFound = APIError.notFound("Webhook delivery not found")

    /// The URL passes the SSRF guard and every event type is in the catalog (or `*`).
    private func checkTarget(_ body: JSONObject) async throws {
        var issues: [FieldIssue] = []
        if let url = body["url"]?.stringValue {
            do {
                _ = try await guardian.check(url)
            } catch {
                issues.append(FieldIssue(field: "url", message: error.message))
            }
        }
        for (index, value) in (body["events"]?.arrayValue ?? []).enumerated() {
            guard let type = value.stringValue, type != "*", catalog[type] == nil else { continue }
            issues.append(FieldIssue(field: "events[\(index)]", message: "Unknown event type \(type); GET /api/webhooks/events lists them"))
        }
        if !issues.isEmpty { throw APIError.validation(issues) }
    }

    private func requireActiveEndpoint(_ sql: any SQLDatabase, organizationID: String, id: String) async throws {
        guard
            let row = try await sql.raw(
                "SELECT active FROM webhook_endpoints WHERE id = \(bind: id) AND organization_id = \(bind: organizationID)"
            ).first().map(DecodedColumns.init)
        else { throw Self.endpointNotFound }
        guard try row.boolean("active") else {
            throw APIError.conflict("The endpoint is disabled; set active to true to deliver to it again", code: "ENDPOINT_DISABLED")
        }
    }

    private static func json(_ type: EventType) -> JSONValue {
        [
            "type": .string(type.type), "description": .string(type.description), "trigger": .string(type.trigger),
            "schema": OpenAPIDocumentBuilder.inlineJSONSchema(type.envelopeSchema), "example": type.exampleEnvelope,
        ]
    }

    /// `'…'` for a POSIX shell.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Deliveries matching `whereClause` (one page when `limit` is given) with their attempts, read
    /// in one statement so that a delivery and its attempt log are from the same moment.
    private func deliveryJSON(where whereClause: SQLQueryString, limit: SQLQueryString, withPayload: Bool) async throws -> [JSONValue] {
        let rows = try await platform.database.readRows(
            """
            SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.test, d.status, d.attempts, d.next_attempt_at, d.last_response_code,
                d.last_error, d.delivered_at, d.created_at, d.updated_at, d.payload,
                a.id AS attempt_id, a.attempt, a.attempted_at, a.duration_ms, a.response_code, a.response_body, a.error, a.succeeded
            FROM (SELECT * FROM webhook_deliveries WHERE \(whereClause) ORDER BY created_at DESC, id DESC \(limit)) d
            LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
            ORDER BY d.created_at DESC, d.id DESC, a.attempted_at, a.attempt
            """)
        var deliveries: [JSONObject] = []
        var attempts: [[JSONValue]] = []
        for row in rows {
            let id = try row.text("id")
            if deliveries.last?["id"]?.stringValue != id {
                var object: JSONObject = [
                    "id": .string(id), "endpointId": .string(try row.text("endpoint_id")), "eventId": .string(try row.text("event_id")),
                    "eventType": .string(try row.text("event_type")), "test": .bool(try row.boolean("test")),
                    "status": .string(try row.text("status")), "attempts": .int(try row.integer("attempts")),
                    "nextAttemptAt": try row.text("status") == "pending" ? try row.jsonTimestamp("next_attempt_at") : .null,
                    "lastResponseCode": try row.jsonInteger("last_response_code"),
                    "lastError": try row.jsonText("last_error"),
                    "deliveredAt": try row.jsonTimestamp("delivered_at"), "createdAt": try row.jsonTimestamp("created_at"),
                    "updatedAt": try row.jsonTimestamp("updated_at"),
                ]
                if withPayload { object["payload"] = .string(try row.text("payload")) }
                deliveries.append(object)
                attempts.append([])
            }
            guard try !row.isNull("attempt_id") else { continue }
            attempts[attempts.count - 1].append([
                "id": .string(try row.text("attempt_id")), "attempt": .int(try row.integer("attempt")),
                "attemptedAt": try row.jsonTimestamp("attempted_at"), "durationMs": .int(try row.integer("duration_ms")),
                "responseCode": try row.jsonInteger("response_code"),
                "responseBody": try row.jsonText("response_body"),
                "error": try row.jsonText("error"), "succeeded": .bool(try row.boolean("succeeded")),
            ])
        }
        return zip(deliveries, attempts).map { delivery, log in
            var object = delivery
            object["attemptLog"] = .array(log)
            return .object(object)
        }
    }

    private func delivery(_ organizationID: String, _ id: String, withPayload: Bool) async throws -> JSONValue {
        let found = try await deliveryJSON(
            where: "id = \(bind: id) AND organization_id = \(bind: organizationID)", limit: "", withPayload: withPayload)
        guard let first = found.first else { throw Self.deliveryNotFound }
        return first
    }

    private func deliveries(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let endpointID = input.path("id")
        guard
            try await !platform.database.readRows(
                "SELECT id FROM webhook_endpoints WHERE id = \(bind: endpointID) AND organization_id = \(bind: caller.organizationID)"
            ).isEmpty
        else { throw Self.endpointNotFound }
        let query = ListQuery(input)
        var conditions: [SQLQueryString] = ["endpoint_id = \(bind: endpointID)"]
        if let status = input.query["status"] { conditions.append("status = \(bind: status)") }
        if let type = input.query["eventType"] { conditions.append("event_type = \(bind: type)") }
        let whereClause = SQLList(conditions, separator: SQLRaw(" AND "))
        let total =
            try await platform.database.readRows("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE \(whereClause)").first?
            .integer("n") ?? 0
        let page = try await deliveryJSON(where: "\(whereClause)", limit: query.limitClause, withPayload: false)
        return .json(PageMeta.envelope(page, total: Int(total), query: query))
    }
}
