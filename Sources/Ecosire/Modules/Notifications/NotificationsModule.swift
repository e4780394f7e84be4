import HTTPTypes
import SQLKit

/// What the server tells an organization's administrators on its own (for now: webhook endpoints
/// it disabled), newest first.
struct NotificationsModule: Module {
    let platform: Platform

    static let notification = Schema.object([
        .init("id", .uuid, required: true), .init("kind", Schema.string().describe("webhook_endpoint.disabled"), required: true),
        .init("title", .string(), required: true), .init("message", .string(), required: true),
        .init("subjectId", Schema.string().describe("The record it is about").orNull(), required: true),
        .init("createdAt", .dateTime, required: true), .init("readAt", Schema.dateTime.orNull(), required: true),
    ]).named("Notification")

    func register(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/api/notifications", id: "listNotifications", tag: "Notifications", summary: "The organization's notifications",
                access: .authenticated(minimumRole: .admin),
                query: Array(ListQuery.parameters(sortable: ["createdAt"], searchable: []).prefix(2)) + [
                    QueryParameter("unread", .boolean, "Only unread (true) or only read (false) notifications")
                ],
                responses: [
                    ResponseSpec(
                        200, "One page of notifications",
                        schema: Schema.object([
                            .init("data", .array(Self.notification), required: true), .init("meta", PageMeta.schema, required: true),
                        ]).named("NotificationList"))
                ]
            )
        ) { input in
            let caller = try input.caller
            let query = ListQuery(input)
            var conditions: [SQLQueryString] = ["organization_id = \(bind: caller.organizationID)"]
            if let unread = input.query["unread"] { conditions.append(unread == "true" ? "read_at IS NULL" : "read_at IS NOT NULL") }
            let whereClause = SQLList(conditions, separator: SQLRaw(" AND "))
            let rows = try await platform.database.readRows(
                """
                SELECT id, kind, title, message, subject_id, created_at, read_at FROM notifications WHERE \(whereClause)
                ORDER BY created_at DESC, id DESC \(query.limitClause)
                """)
            let total =
                try await platform.database.readRows("SELECT COUNT(*) AS n FROM notifications WHERE \(whereClause)").first?
                .integer("n") ?? 0
            let data = try rows.map { row -> JSONValue in
                [
                    "id": .string(try row.text("id")), "kind": .string(try row.text("kind")), "title": .string(try row.text("title")),
                    "message": .string(try row.text("message")),
                    "subjectId": try row.jsonText("subject_id"),
                    "createdAt": .string(Timestamp.iso(millis: try row.integer("created_at"))),
                    "readAt": try row.jsonTimestamp("read_at"),
                ]
            }
            return .json(PageMeta.envelope(data, total: Int(total), query: query))
        }

        api.add(
            Operation(
                .post, "/api/notifications/{id}/read", id: "readNotification", tag: "Notifications", summary: "Mark a notification read",
                access: .authenticated(minimumRole: .admin), responses: [ResponseSpec(204, "Marked read")]
            )
        ) { input in
            let caller = try input.caller
            let updated = try await platform.database.run(
                """
                UPDATE notifications SET read_at = COALESCE(read_at, \(bind: platform.clock.nowMillis()))
                WHERE id = \(bind: input.path("id")) AND organization_id = \(bind: caller.organizationID) RETURNING id
                """)
            guard !updated.isEmpty else { throw APIError.notFound("Notification not found") }
            return .noContent
        }
    }
}
