import HTTPTypes
import SQLKit

/// The email outbox as administrators see it: every message the server queued, its delivery
/// state and last error, and a retry for failed ones.
struct EmailModule: Module {
    let platform: Platform
    let outbox: ResourceStore

    static let statuses = ["queued", "sending", "sent", "failed"]

    static let resource = Resource(
        singular: "OutboxEmail", plural: "OutboxEmails", tag: "Email", path: "/api/email/outbox", table: "email_outbox",
        fields: [
            ResourceField(
                "kind", schema: Schema.string().describe("support_acknowledgement, ticket_reply, newsletter_confirmation, …"),
                writable: false),
            ResourceField("to", column: "to_address", schema: .email, writable: false),
            ResourceField("toName", schema: .string(), writable: false),
            ResourceField("subject", schema: .string(), writable: false),
            ResourceField("body", schema: .string(), writable: false),
            ResourceField(
                "status",
                schema: Schema.enumeration(statuses).describe(
                    "queued (waiting, or waiting for a retry), sending, sent, failed (permanent error or attempts used up)"),
                writable: false),
            ResourceField("attempts", schema: .integer(minimum: 0), storage: .integer, writable: false),
            ResourceField("nextAttemptAt", schema: .dateTime, storage: .timestamp, writable: false),
            ResourceField("lastError", schema: .string(), writable: false),
            ResourceField("serverResponse", schema: Schema.string().describe("The SMTP server's answer to the message"), writable: false),
            ResourceField("messageId", schema: .string(), writable: false),
            ResourceField("relatedType", schema: .string(), writable: false),
            ResourceField("relatedId", schema: .string(), writable: false),
            ResourceField("sentAt", schema: .dateTime, storage: .timestamp, writable: false),
        ],
        sortable: ["createdAt", "updatedAt", "status"], searchable: ["to", "subject"],
        filters: [
            .equals("status", column: "status", schema: .enumeration(statuses), description: "Only messages in this state"),
            .equals("kind", column: "kind", schema: .string(minLength: 1, maxLength: 100), description: "Only this kind of message"),
            .equals(
                "to", column: "to_address", schema: .string(minLength: 1, maxLength: 254), description: "Only messages to this address"),
        ]
    )

    init(platform: Platform) {
        self.platform = platform
        self.outbox = ResourceStore(resource: Self.resource, database: platform.database, clock: platform.clock)
    }

    func register(on api: APIRouter) {
        ResourceRoutes(resource: outbox.resource, store: outbox).register(on: api, readRole: .admin, routes: [.list, .get])
        api.add(
            Operation(
                .post, "/api/email/outbox/{id}/retry", id: "retryOutboxEmail", tag: "Email", summary: "Send a failed email again",
                description: "failed → queued, with a fresh set of attempts.", access: .authenticated(minimumRole: .admin),
                responses: [ResponseSpec(200, "The message", schema: outbox.resource.recordSchema)], errors: [409]
            )
        ) { input in
            let caller = try input.caller
            let id = input.path("id")
            let now = platform.clock.nowMillis()
            let outbox = self.outbox
            let email = try await outbox.act(organizationID: caller.organizationID, id: id, action: "retry", allowed: ["failed"]) {
                sql, email in
                try await sql.raw(
                    """
                    UPDATE email_outbox SET status = 'queued', attempts = 0, next_attempt_at = \(bind: now), updated_at = \(bind: now)
                    WHERE id = \(bind: id) AND organization_id = \(bind: caller.organizationID)
                    """
                ).run()
                return try await outbox.fetch(sql, organizationID: caller.organizationID, id: id) ?? email
            }
            return .json(email)
        }
    }
}
