import Foundation
import SQLKit

/// The contact timeline: one row per thing that happened to or around a contact.
struct ContactActivityLog: Sendable {
    let database: any Database
    let clock: WallClock

    static let schema = Schema.object([
        .init("id", .uuid, required: true),
        .init("contactId", .uuid, required: true),
        .init(
            "type", Schema.enumeration(["created", "updated", "merged", "imported", "note", "order", "invoice", "ticket", "email"]),
            required: true),
        .init("summary", .string(), required: true),
        .init("data", Schema.anyValue.orNull(), required: true),
        .init("occurredAt", .dateTime, required: true),
    ]).named("ContactActivity")

    static let listSchema = Schema.object([
        .init("data", .array(schema), required: true), .init("meta", PageMeta.schema, required: true),
    ]).named("ContactActivityList")

    /// Appends an entry inside the caller's transaction.
    func record(_ sql: any SQLDatabase, organizationID: String, contactID: String, kind: String, summary: String, data: JSONValue = .null)
        async throws
    {
        try await ContactDirectory(clock: clock).recordActivity(
            sql, organizationID: organizationID, contactID: contactID, kind: kind, summary: summary, data: data)
    }

    /// Newest first, ties by id.
    func list(organizationID: String, contactID: String, page: Int, limit: Int) async throws -> (entries: [JSONValue], total: Int) {
        try await database.read { sql in
            let total =
                try await sql.raw(
                    """
                    SELECT COUNT(*) AS total FROM contact_activities WHERE organization_id = \(bind: organizationID) AND contact_id = \(bind: contactID)
                    """
                ).first()?.decode(column: "total", as: Int.self) ?? 0
            let rows = try await sql.raw(
                """
                SELECT id, contact_id, kind, summary, data, occurred_at FROM contact_activities
                WHERE organization_id = \(bind: organizationID) AND contact_id = \(bind: contactID)
                ORDER BY occurred_at DESC, id DESC LIMIT \(bind: limit) OFFSET \(bind: (page - 1) * limit)
                """
            ).all()
            let entries = try rows.map { row -> JSONValue in
                let data = try row.decode(column: "data", as: String?.self).flatMap { try? JSONValue.parse($0) } ?? .null
                return .object([
                    "id": .string(try row.decode(column: "id", as: String.self)),
                    "contactId": .string(try row.decode(column: "contact_id", as: String.self)),
                    "type": .string(try row.decode(column: "kind", as: String.self)),
                    "summary": .string(try row.decode(column: "summary", as: String.self)),
                    "data": data,
                    "occurredAt": .string(Timestamp.iso(millis: try row.decode(column: "occurred_at", as: Int64.self))),
                ])
            }
            return (entries, total)
        }
    }
}
