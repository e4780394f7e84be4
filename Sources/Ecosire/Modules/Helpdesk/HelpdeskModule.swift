import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// Helpdesk: tickets (CRUD, assign, reply, close, reopen, messages), teams, SLA policies, stats,
/// and the public support form that opens tickets.
struct HelpdeskModule: Module {
    let platform: Platform
    let contacts: ContactDirectory
    let tickets: ResourceStore
    let teams: ResourceStore
    let policies: ResourceStore
    let outbox: EmailOutbox

    init(platform: Platform, contacts: ContactDirectory) {
        self.platform = platform
        self.contacts = contacts
        self.outbox = EmailOutbox(clock: platform.clock, secrets: platform.secrets)
        var resource = TicketResource.resource(contacts: contacts, clock: platform.clock)
        resource.onChange = { change, sql, organizationID in
            switch change {
            case .created(let ticket):
                guard let contactID = ticket["contactId"]?.stringValue else { return }
                try await contacts.recordActivity(
                    sql, organizationID: organizationID, contactID: contactID, kind: "ticket",
                    summary: "Ticket \(ticket["ticketNumber"]?.stringValue ?? "") opened: \(ticket["subject"]?.stringValue ?? "")",
                    data: ["ticketId": ticket["id"] ?? .null])
            case .deleted(let ticket):
                try await sql.raw("DELETE FROM helpdesk_ticket_messages WHERE ticket_id = \(bind: ticket["id"]?.stringValue ?? "")").run()
            case .updated: break
            }
        }
        self.tickets = ResourceStore(resource: resource, database: platform.database, clock: platform.clock)
        self.teams = ResourceStore(resource: TeamResource.resource, database: platform.database, clock: platform.clock)
        self.policies = ResourceStore(resource: SLAPolicyResource.resource, database: platform.database, clock: platform.clock)
    }

    var eventTypes: [EventType] { tickets.resource.eventTypes }

    static let message = Schema.object([
        .init("id", .uuid, required: true), .init("ticketId", .uuid, required: true),
        .init("authorType", .enumeration(["agent", "customer", "system"]), required: true),
        .init("authorUserId", Schema.uuid.orNull(), required: true), .init("authorName", Schema.string().orNull(), required: true),
        .init("body", .string(), required: true),
        .init("internal", Schema.boolean.describe("Internal notes are never emailed to the customer"), required: true),
        .init("emailId", Schema.uuid.describe("The outbox message that carried a public reply").orNull(), required: true),
        .init("createdAt", .dateTime, required: true),
    ]).named("TicketMessage")

    static let supportRequest = Schema.object([
        .init("name", .string(minLength: 1, maxLength: 200), required: true),
        .init("email", .email, required: true),
        .init("subject", .string(minLength: 1, maxLength: 200), required: true),
        .init("message", .string(minLength: 1, maxLength: 10_000), required: true),
        .init("product", Schema.string(maxLength: 200).describe("The product the request is about")),
    ]).named("SupportRequest")

    func register(on api: APIRouter) {
        ResourceRoutes(resource: tickets.resource, store: tickets).register(on: api)
        ResourceRoutes(resource: teams.resource, store: teams).register(on: api, writeRole: .admin)
        // SLA policies are listed at the documented `GET /api/helpdesk/sla`; the collection's own
        // path keeps its list (and the other four routes) for existing clients.
        let policyRoutes = ResourceRoutes(resource: policies.resource, store: policies)
        policyRoutes.registerList(
            on: api, path: "/api/helpdesk/sla", id: "listSLAPolicies",
            description:
                "The SLA policies: first-response and resolution targets by priority, optionally for one team. The same list is at GET /api/helpdesk/sla-policies."
        )
        policyRoutes.registerList(
            on: api, path: policies.resource.path, id: "listSLAPoliciesAlias",
            description:
                "The same list as GET /api/helpdesk/sla (the documented path), kept beside the policies' create, get, update and delete.")
        policyRoutes.register(on: api, writeRole: .admin, routes: [.create, .get, .update, .delete])
        registerSupport(on: api)
        registerActions(on: api)
        registerStats(on: api)
    }

    // MARK: Public support form

    private func registerSupport(on api: APIRouter) {
        api.add(
            Operation(
                .post, "/api/support", id: "submitSupportRequest", tag: "Public intake", summary: "Submit a support request",
                description:
                    "Opens a helpdesk ticket (HD-2026-0142) in the site organization, creates the contact when the email is new, and emails an acknowledgement. No authentication; limited per client address.",
                access: .open, body: .json(Self.supportRequest, example: Self.supportExample),
                responses: [
                    ResponseSpec(
                        201, "The ticket",
                        schema: Schema.object([
                            .init("id", .uuid, required: true),
                            .init("ticketNumber", Schema.string().describe("HD-2026-0142"), required: true),
                        ]).named("SupportTicketReceipt"),
                        headers: ["Location": "URL of the ticket (readable by the organization's members)"])
                ],
                errors: [503], rateLimit: .support
            )
        ) { input in
            let body = input.object
            let name = body["name"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let subject = body["subject"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let message = body["message"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            var issues: [FieldIssue] = []
            if name.isEmpty { issues.append(FieldIssue(field: "name", message: "Must not be blank")) }
            if subject.isEmpty { issues.append(FieldIssue(field: "subject", message: "Must not be blank")) }
            if message.isEmpty { issues.append(FieldIssue(field: "message", message: "Must not be blank")) }
            if !issues.isEmpty { throw APIError.validation(issues) }
            let email = body["email"]?.stringValue?.lowercased() ?? ""
            let product = body["product"]?.stringValue
            let ticket = try await platform.database.transaction { sql in
                let organizationID = try await platform.siteOrganizationID(sql)
                let contact = try await contacts.findOrCreate(
                    sql, organizationID: organizationID, email: email, name: name, source: "a support request"
                ).contact
                var fields: JSONObject = [
                    "subject": .string(subject), "description": .string(message), "channel": "web",
                    "contactId": contact["id"] ?? .null,
                ]
                if let product { fields["product"] = .string(product) }
                let ticket = try await tickets.create(sql, organizationID: organizationID, body: fields)
                let number = ticket["ticketNumber"]?.stringValue ?? ""
                try await sendEmail(
                    sql, organizationID: organizationID, ticket: ticket, kind: "support_acknowledgement",
                    subject: "[\(number)] We received your request",
                    // Nothing the visitor typed is echoed back (message, subject, name): anyone can type
                    // any address into a public form, and free text would be relayed to it.
                    text: """
                        Hello,

                        We received your support request and opened ticket \(number). We will answer at this address.
                        Mention \(number) if you write to us about it.

                        If you did not send this request, ignore this email.
                        """, addressByName: false)
                return ticket
            }
            return .created(
                ["id": ticket["id"] ?? .null, "ticketNumber": ticket["ticketNumber"] ?? .null],
                location: "/api/helpdesk/tickets/\(ticket["id"]?.stringValue ?? "")")
        }
    }

    static let supportExample: JSONValue = [
        "name": "Ada Lovelace", "email": "ada@example.com", "subject": "Cannot activate my license",
        "message": "The activation answers LICENSE_EXPIRED although I renewed yesterday.", "product": "Odoo Connector",
    ]

    /// Queues an email to the ticket's contact (its address as it is now, not the ticket's
    /// snapshot) and notes it on the contact's timeline; returns the outbox id (nil when the contact
    /// has no email).
    @discardableResult
    private func sendEmail(
        _ sql: any SQLDatabase, organizationID: String, ticket: JSONValue, kind: String, subject: String, text: String,
        addressByName: Bool = true
    ) async throws -> String? {
        guard let contactID = ticket["contactId"]?.stringValue,
            let contact = try await contacts.reference(sql, organizationID: organizationID, id: contactID),
            let email = contact["email"]?.stringValue
        else { return nil }
        let id = try await outbox.enqueue(
            sql, organizationID: organizationID,
            to: EmailAddress(address: email, name: addressByName ? contact["name"]?.stringValue : nil),
            subject: subject, text: text, kind: kind,
            related: EmailOutbox.Related(type: "ticket", id: ticket["id"]?.stringValue ?? ""))
        try await contacts.recordActivity(
            sql, organizationID: organizationID, contactID: contactID, kind: "email", summary: "Email sent: \(subject)",
            data: ["emailId": .string(id), "ticketId": ticket["id"] ?? .null])
        return id
    }

    // MARK: Workflow actions

    private func registerActions(on api: APIRouter) {
        let record = tickets.resource.recordSchema
        api.add(
            Operation(
                .post, "/api/helpdesk/tickets/{id}/assign", id: "assignTicket", tag: "Helpdesk", summary: "Assign a ticket",
                description: "Sets the assignee (a user of the organization) and/or the team; null clears either.",
                access: .authenticated(minimumRole: .member),
                body: .json(
                    {
                        var schema = Schema.object([
                            .init("assigneeId", Schema.uuid.orNull()), .init("teamId", Schema.uuid.orNull()),
                        ]).named("AssignTicketRequest")
                        schema.example = ["assigneeId": "018e1234-abcd-7000-8000-000000000001"]
                        return schema
                    }()),
                responses: [ResponseSpec(200, "The ticket", schema: record)], errors: [409]
            )
        ) { input in
            let caller = try input.caller
            let body = input.object
            guard body["assigneeId"] != nil || body["teamId"] != nil else {
                throw APIError.validation(field: "assigneeId", "Give assigneeId, teamId or both")
            }
            guard let ticket = try await tickets.update(organizationID: caller.organizationID, id: input.path("id"), body: body) else {
                throw APIError.notFound("Ticket not found")
            }
            return .json(ticket)
        }

        api.add(
            Operation(
                .post, "/api/helpdesk/tickets/{id}/reply", id: "replyToTicket", tag: "Helpdesk", summary: "Reply to a ticket",
                description:
                    "A public reply is emailed to the ticket's contact, counts as the first response for the SLA, and moves a new ticket to in_progress; an internal note is only stored. `status` moves the ticket in the same step (for example to pending_customer).",
                access: .authenticated(minimumRole: .member),
                body: .json(
                    Schema.object([
                        .init("body", .string(minLength: 1, maxLength: 20_000), required: true),
                        .init("internal", Schema.boolean.describe("An internal note (default false)")),
                        .init("status", .enumeration(["in_progress", "pending_customer", "resolved", "closed"])),
                    ]).named("TicketReplyRequest"),
                    example: ["body": "Your license is renewed; please try again.", "status": "pending_customer"]),
                responses: [
                    ResponseSpec(
                        201, "The message and the ticket after it",
                        schema: Schema.object([
                            .init("message", Self.message, required: true), .init("ticket", record, required: true),
                        ]).named("TicketReply"),
                        headers: ["Location": "URL of the ticket's messages, where the new one is listed"])
                ],
                errors: [409]
            )
        ) { input in try await reply(input) }

        for (action, allowed, target, summary) in [
            ("close", TicketResource.openStatuses + ["resolved"], "closed", "Close a ticket"),
            ("reopen", ["resolved", "closed"], "in_progress", "Reopen a ticket"),
        ] {
            api.add(
                Operation(
                    .post, "/api/helpdesk/tickets/{id}/\(action)", id: "\(action)Ticket", tag: "Helpdesk", summary: summary,
                    description: "\(allowed.joined(separator: ", ")) → \(target).", access: .authenticated(minimumRole: .member),
                    responses: [ResponseSpec(200, "The ticket", schema: record)], errors: [409]
                )
            ) { input in
                let caller = try input.caller
                let id = input.path("id")
                let tickets = self.tickets
                let now = platform.clock.nowMillis()
                let ticket = try await tickets.act(organizationID: caller.organizationID, id: id, action: action, allowed: allowed) {
                    sql, ticket in
                    try await tickets.set(
                        sql, organizationID: caller.organizationID, id: id,
                        values: TicketResource.stamps(movingTo: target, from: ticket, now: now)) ?? ticket
                }
                return .json(ticket)
            }
        }

        api.add(
            Operation(
                .get, "/api/helpdesk/tickets/{id}/messages", id: "listTicketMessages", tag: "Helpdesk", summary: "A ticket's messages",
                description: "Replies and internal notes, oldest first.",
                query: Array(ListQuery.parameters(sortable: ["createdAt"], searchable: []).prefix(2)),
                responses: [
                    ResponseSpec(
                        200, "One page of messages",
                        schema: Schema.object([
                            .init("data", .array(Self.message), required: true), .init("meta", PageMeta.schema, required: true),
                        ]).named("TicketMessageList"))
                ]
            )
        ) { input in
            let caller = try input.caller
            let id = input.path("id")
            guard try await tickets.get(organizationID: caller.organizationID, id: id) != nil else {
                throw APIError.notFound("Ticket not found")
            }
            let query = ListQuery(input)
            let rows = try await platform.database.readRows(
                """
                SELECT id, ticket_id, author_type, author_user_id, author_name, body, internal, email_id, created_at
                FROM helpdesk_ticket_messages WHERE ticket_id = \(bind: id) AND organization_id = \(bind: caller.organizationID)
                ORDER BY created_at, id \(query.limitClause)
                """)
            let total =
                try await platform.database.readRows(
                    """
                    SELECT COUNT(*) AS n FROM helpdesk_ticket_messages
                    WHERE ticket_id = \(bind: id) AND organization_id = \(bind: caller.organizationID)
                    """
                ).first?.integer("n") ?? 0
            return .json(PageMeta.envelope(try rows.map(Self.messageJSON), total: Int(total), query: query))
        }
    }

    static func messageJSON(_ row: any ColumnValues) throws -> JSONValue {
        [
            "id": .string(try row.text("id")), "ticketId": .string(try row.text("ticket_id")),
            "authorType": .string(try row.text("author_type")), "authorUserId": try row.jsonText("author_user_id"),
            "authorName": try row.jsonText("author_name"), "body": .string(try row.text("body")),
            "internal": .bool(try row.boolean("internal")), "emailId": try row.jsonText("email_id"),
            "createdAt": .string(Timestamp.iso(millis: try row.integer("created_at"))),
        ]
    }

    private func reply(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let id = input.path("id")
        let body = input.object
        let text = body["body"]?.stringValue ?? ""
        let isInternal = body["internal"]?.boolValue ?? false
        let requested = body["status"]?.stringValue
        let tickets = self.tickets
        let clock = platform.clock
        let result = try await tickets.act(
            organizationID: caller.organizationID, id: id, action: "reply to", allowed: TicketResource.openStatuses + ["resolved"]
        ) { sql, ticket -> JSONValue in
            let now = clock.nowMillis()
            let current = ticket["status"]?.stringValue ?? "new"
            var changes = JSONObject()
            var emailID: String?
            let author = try await UserDirectory.name(sql, organizationID: caller.organizationID, userID: caller.userID)
            if !isInternal {
                let number = ticket["ticketNumber"]?.stringValue ?? ""
                emailID = try await sendEmail(
                    sql, organizationID: caller.organizationID, ticket: ticket, kind: "ticket_reply",
                    subject: "Re: [\(number)] \(ticket["subject"]?.stringValue ?? "")",
                    text: text + "\n\n-- \n\(author ?? "Support") · ticket \(number)")
                // Nothing was queued; the transaction rolls back whatever came before.
                guard emailID != nil else {
                    throw APIError.validation(field: "internal", "A public reply needs a contact with an email address")
                }
                if ticket["firstRespondedAt"]?.isNull ?? true { changes["firstRespondedAt"] = .string(Timestamp.iso(millis: now)) }
            }
            if let target = requested ?? (!isInternal && current == "new" ? "in_progress" : nil), target != current {
                try TicketResource.requireTransition(from: current, to: target)
                changes.merge(TicketResource.stamps(movingTo: target, from: ticket, now: now))
            }
            let messageID = UUIDv7.generate()
            try await sql.raw(
                """
                INSERT INTO helpdesk_ticket_messages (id, organization_id, ticket_id, author_type, author_user_id, author_name, body, internal,
                    email_id, created_at)
                VALUES (\(bind: messageID), \(bind: caller.organizationID), \(bind: id), 'agent', \(bind: caller.userID), \(bind: author),
                    \(bind: text), \(bind: isInternal), \(bind: emailID), \(bind: now))
                """
            ).run()
            let after = try await tickets.set(sql, organizationID: caller.organizationID, id: id, values: changes) ?? ticket
            guard
                let row = try await sql.raw(
                    """
                    SELECT id, ticket_id, author_type, author_user_id, author_name, body, internal, email_id, created_at
                    FROM helpdesk_ticket_messages WHERE id = \(bind: messageID)
                    """
                ).first()
            else { throw APIError.internalError }
            return ["message": try Self.messageJSON(DecodedColumns(row)), "ticket": after]
        }
        return .created(result, location: "/api/helpdesk/tickets/\(id)/messages")
    }

    // MARK: Stats

    static let statsSchema = Schema.object([
        .init("total", .integer(minimum: 0), required: true),
        .init("open", Schema.integer(minimum: 0).describe("new, in_progress or pending_customer"), required: true),
        .init("unassigned", Schema.integer(minimum: 0).describe("Open tickets without an assignee"), required: true),
        .init("overdueSla", Schema.integer(minimum: 0).describe("Open tickets past an SLA target"), required: true),
        .init(
            "byStatus", Schema.object(TicketResource.statuses.map { .init($0, .integer(minimum: 0), required: true) }),
            required: true),
        .init(
            "byPriority", Schema.object(TicketResource.priorities.map { .init($0, .integer(minimum: 0), required: true) }),
            required: true),
        .init("averageFirstResponseMinutes", Schema.integer().orNull(), required: true),
        .init("averageResolutionMinutes", Schema.integer().orNull(), required: true),
        .init(
            "slaCompliance",
            Schema.integer(minimum: 0, maximum: 100).describe("Percent of resolved tickets with an SLA that met their resolution target")
                .orNull(), required: true),
    ]).named("HelpdeskStats")

    private func registerStats(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/api/helpdesk/stats", id: "getHelpdeskStats", tag: "Helpdesk", summary: "Helpdesk statistics",
                description: "Counts by status and priority, open and overdue work, response and resolution times, SLA compliance.",
                query: [
                    QueryParameter("from", .dateTime, "Only tickets created at or after (ISO 8601)"),
                    QueryParameter("to", .dateTime, "Only tickets created at or before (ISO 8601)"),
                ],
                responses: [ResponseSpec(200, "The statistics", schema: Self.statsSchema)]
            )
        ) { input in
            let caller = try input.caller
            var conditions: [SQLQueryString] = ["organization_id = \(bind: caller.organizationID)"]
            for (name, after) in [("from", true), ("to", false)] {
                if let value = input.query[name] {
                    conditions.append(
                        ResourceFilter.timeRange(name, column: "created_at", after: after, description: "").condition(value))
                }
            }
            let whereClause = SQLList(conditions, separator: SQLRaw(" AND "))
            let groups = try await platform.database.readRows(
                "SELECT status, priority, COUNT(*) AS n FROM helpdesk_tickets WHERE \(whereClause) GROUP BY status, priority")
            var byStatus = Dictionary(uniqueKeysWithValues: TicketResource.statuses.map { ($0, Int64(0)) })
            var byPriority = Dictionary(uniqueKeysWithValues: TicketResource.priorities.map { ($0, Int64(0)) })
            for row in groups {
                let count = try row.integer("n")
                byStatus[try row.text("status"), default: 0] += count
                byPriority[try row.text("priority"), default: 0] += count
            }
            let overdue = TicketResource.overdueCondition(now: platform.clock.nowMillis())
            guard
                let totals = try await platform.database.readRows(
                    """
                    SELECT COALESCE(SUM(CASE WHEN status IN ('new', 'in_progress', 'pending_customer') AND assignee_id IS NULL THEN 1 ELSE 0 END), 0) AS unassigned,
                        COALESCE(SUM(CASE WHEN \(overdue) THEN 1 ELSE 0 END), 0) AS overdue,
                        CAST(AVG(CASE WHEN first_responded_at IS NOT NULL THEN first_responded_at - created_at END) AS BIGINT) AS first_response,
                        CAST(AVG(CASE WHEN resolved_at IS NOT NULL THEN resolved_at - created_at END) AS BIGINT) AS resolution,
                        COALESCE(SUM(CASE WHEN resolved_at IS NOT NULL AND sla_due_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS sla_measured,
                        COALESCE(SUM(CASE WHEN resolved_at IS NOT NULL AND sla_due_at IS NOT NULL AND resolved_at <= sla_due_at THEN 1 ELSE 0 END), 0) AS sla_met
                    FROM helpdesk_tickets WHERE \(whereClause)
                    """
                ).first
            else { throw APIError.internalError }
            func minutes(_ column: String) throws -> JSONValue {
                try totals.isNull(column) ? .null : .int(try totals.integer(column) / 60_000)
            }
            let measured = try totals.integer("sla_measured")
            let open = TicketResource.openStatuses.reduce(Int64(0)) { $0 + (byStatus[$1] ?? 0) }
            return .json([
                "total": .int(byStatus.values.reduce(0, +)), "open": .int(open), "unassigned": .int(try totals.integer("unassigned")),
                "overdueSla": .int(try totals.integer("overdue")),
                "byStatus": .object(JSONObject(TicketResource.statuses.map { ($0, .int(byStatus[$0] ?? 0)) })),
                "byPriority": .object(JSONObject(TicketResource.priorities.map { ($0, .int(byPriority[$0] ?? 0)) })),
                "averageFirstResponseMinutes": try minutes("first_response"), "averageResolutionMinutes": try minutes("resolution"),
                "slaCompliance": measured == 0 ? .null : .int(try totals.integer("sla_met") * 100 / measured),
            ])
        }
    }
}
