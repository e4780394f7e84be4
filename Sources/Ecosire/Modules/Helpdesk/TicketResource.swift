import Foundation
import HTTPTypes
import SQLKit

/// Helpdesk tickets: fields, the status workflow and SLA targets.
enum TicketResource {
    static let statuses = ["new", "in_progress", "pending_customer", "resolved", "closed"]
    static let openStatuses = ["new", "in_progress", "pending_customer"]
    static let priorities = ["low", "medium", "high", "urgent"]
    static let channels = ["web", "email", "phone", "chat", "api"]

    /// Allowed status moves. `closed` leaves only through `reopen`.
    static let transitions: [String: Set<String>] = [
        "new": ["in_progress", "pending_customer", "resolved", "closed"],
        "in_progress": ["pending_customer", "resolved", "closed"],
        "pending_customer": ["in_progress", "resolved", "closed"],
        "resolved": ["in_progress", "closed"],
        "closed": [],
    ]

    /// The assignee as tickets embed it beside `assigneeId` (its name follows renames).
    static let userReference = Schema.object([.init("id", .uuid, required: true), .init("name", .string(), required: true)])
        .named("UserReference")
    /// The team as tickets embed it beside `teamId` (its name follows renames).
    static let teamReference = Schema.object([.init("id", .uuid, required: true), .init("name", .string(), required: true)])
        .named("TeamReference")

    static let fields: [ResourceField] = [
        ResourceField("ticketNumber", schema: Schema.string().describe("HD-2026-0142"), writable: false),
        ResourceField("subject", schema: .string(minLength: 1, maxLength: 200), required: true),
        ResourceField("description", schema: .string(maxLength: 10_000)),
        ResourceField(
            "status",
            schema: Schema.enumeration(statuses).describe(
                "new → in_progress ⇄ pending_customer → resolved → closed; resolved and closed tickets come back with reopen"),
            default: "new"),
        ResourceField("priority", schema: .enumeration(priorities), default: "medium"),
        ResourceField("channel", schema: .enumeration(channels), default: "api"),
        ResourceField("contactId", schema: .uuid),
        ResourceField("contact", schema: OrderResource.contactReference, storage: .json, writable: false),
        ResourceField("assigneeId", schema: Schema.uuid.describe("A user of the organization (what writes set)")),
        ResourceField("assignee", schema: userReference, storage: .json, writable: false),
        ResourceField("teamId", schema: Schema.uuid.describe("A helpdesk team (what writes set)")),
        ResourceField("team", schema: teamReference, storage: .json, writable: false),
        ResourceField("product", schema: .string(maxLength: 200)),
        ResourceField("tags", schema: .array(.string(minLength: 1, maxLength: 50), maxItems: 20), storage: .json, default: []),
        ResourceField("slaPolicyId", schema: Schema.uuid.describe("The SLA policy whose targets apply"), writable: false),
        ResourceField(
            "firstResponseDueAt", schema: Schema.dateTime.describe("First public reply due by (SLA)"), storage: .timestamp,
            writable: false),
        ResourceField("slaDueAt", schema: Schema.dateTime.describe("Resolution due by (SLA)"), storage: .timestamp, writable: false),
        ResourceField("firstRespondedAt", schema: .dateTime, storage: .timestamp, writable: false),
        ResourceField("resolvedAt", schema: .dateTime, storage: .timestamp, writable: false),
        ResourceField("closedAt", schema: .dateTime, storage: .timestamp, writable: false),
    ]

    static let example: JSONValue = [
        "subject": "Cannot activate my license", "description": "The activation answers LICENSE_EXPIRED.", "priority": "high",
        "contactId": "018e1234-abcd-7000-8000-000000000001",
    ]

    /// The timestamps a move to `status` sets or clears.
    static func stamps(movingTo status: String, from current: JSONValue, now: Int64) -> JSONObject {
        let iso = JSONValue.string(Timestamp.iso(millis: now))
        var values = JSONObject()
        values["status"] = .string(status)
        switch status {
        case "resolved":
            values["resolvedAt"] = iso
        case "closed":
            values["closedAt"] = iso
            if current["resolvedAt"]?.isNull ?? true { values["resolvedAt"] = iso }
        case "in_progress", "pending_customer", "new":
            values["resolvedAt"] = .null
            values["closedAt"] = .null
        default: break
        }
        return values
    }

    /// Throws 409 `INVALID_STATE` unless the workflow allows `from` → `to`.
    static func requireTransition(from: String, to: String) throws {
        guard from == to || transitions[from]?.contains(to) == true else {
            var error = APIError.invalidState(current: from, action: "move to \(to)", noun: "a ticket")
            error.details = [FieldIssue(field: "status", message: "Current status is \(from)")]
            throw error
        }
    }

    /// The SQL of the `overdueSla` filter: an open ticket past its resolution target, or without a
    /// first reply past its first-response target.
    static func overdueCondition(now: Int64) -> SQLQueryString {
        """
        (status IN ('new', 'in_progress', 'pending_customer') AND ((sla_due_at IS NOT NULL AND sla_due_at < \(bind: now))
            OR (first_responded_at IS NULL AND first_response_due_at IS NOT NULL AND first_response_due_at < \(bind: now))))
        """
    }

    static func resource(contacts: ContactDirectory, clock: WallClock) -> Resource {
        var resource = Resource(
            singular: "Ticket", plural: "Tickets", tag: "Helpdesk", path: "/api/helpdesk/tickets", table: "helpdesk_tickets",
            fields: fields, sortable: ["createdAt", "updatedAt", "ticketNumber", "status", "priority", "slaDueAt"],
            searchable: ["ticketNumber", "subject", "description"],
            filters: [
                .equals("status", column: "status", schema: .enumeration(statuses), description: "Only tickets in this status"),
                .equals("priority", column: "priority", schema: .enumeration(priorities), description: "Only this priority"),
                .equals("channel", column: "channel", schema: .enumeration(channels), description: "Only tickets from this channel"),
                .reference("assigneeId", column: "assignee_id", description: "Only tickets assigned to this user"),
                .reference("teamId", column: "team_id", description: "Only this team's tickets"),
                .reference("contactId", column: "contact_id", description: "Only this contact's tickets"),
                .timeRange("from", column: "created_at", after: true, description: "Created at or after (ISO 8601)"),
                .timeRange("to", column: "created_at", after: false, description: "Created at or before (ISO 8601)"),
                ResourceFilter(
                    QueryParameter(
                        "overdueSla", .boolean,
                        "true: open tickets past an SLA target (resolution, or first response without a reply); false: the others")
                ) { value in
                    let overdue = overdueCondition(now: clock.nowMillis())
                    return value == "true" ? overdue : "NOT \(overdue)"
                },
            ],
            example: example, eventPrefix: "ticket",
            prepare: { values, write in
                try await prepare(&values, write, contacts: contacts, clock: clock)
            }
        )
        resource.conflictsOnChange = true
        return resource
    }

    private static func prepare(_ values: inout JSONObject, _ write: ResourceWrite, contacts: ContactDirectory, clock: WallClock)
        async throws
    {
        let now = clock.nowMillis()
        if let before = write.before {
            try APIError.requireStatus(
                of: before, in: openStatuses + ["resolved"], action: "edit", noun: "a ticket (reopen it first)")
            if let status = values["status"]?.stringValue, status != before["status"]?.stringValue {
                try requireTransition(from: before["status"]?.stringValue ?? "", to: status)
                values.merge(stamps(movingTo: status, from: before, now: now))
            }
        } else if let status = values["status"]?.stringValue, status != "new" {
            throw APIError.validation(field: "status", "New tickets start as new")
        }
        try await contacts.attach(to: &values, write)
        if let assignee = values["assigneeId"]?.stringValue {
            guard let reference = try await UserDirectory.reference(write.sql, organizationID: write.organizationID, userID: assignee)
            else { throw APIError.validation(field: "assigneeId", "No such user in the organization") }
            values["assigneeId"] = .string(assignee.lowercased())
            values["assignee"] = reference
        } else if values["assigneeId"]?.isNull == true {
            values["assignee"] = .null
        }
        try await TeamResource.checkTeam(in: &values, write, embed: true)
        if write.before == nil {
            let year = Calendar.utc.component(.year, from: clock.now())
            let number = try await ReferenceSequence.next(write.sql, organizationID: write.organizationID, name: "HD", year: year)
            values["ticketNumber"] = .string(ReferenceSequence.format(prefix: "HD", year: year, number: number, separator: "-"))
        }
        // SLA targets count from the ticket's creation; they follow priority and team changes.
        if write.before == nil || values["priority"] != nil || values["teamId"] != nil {
            let priority = values["priority"]?.stringValue ?? write.before?["priority"]?.stringValue ?? "medium"
            let team = values["teamId"].map { $0.stringValue } ?? write.before?["teamId"]?.stringValue
            let created = write.before?["createdAt"]?.stringValue.flatMap(Timestamp.millis(parsing:)) ?? now
            let policy = try await SLAPolicyResource.matching(
                write.sql, organizationID: write.organizationID, priority: priority, teamID: team)
            values["slaPolicyId"] = policy.map { .string($0.id) } ?? .null
            values["firstResponseDueAt"] =
                policy.map { .string(Timestamp.iso(millis: created + Int64($0.firstResponseMinutes) * 60_000)) } ?? .null
            values["slaDueAt"] = policy.map { .string(Timestamp.iso(millis: created + Int64($0.resolutionMinutes) * 60_000)) } ?? .null
        }
    }
}
