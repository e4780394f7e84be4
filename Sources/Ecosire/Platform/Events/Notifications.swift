import SQLKit

/// Messages for an organization's administrators about things the server did on its own (a
/// webhook endpoint disabled after failing), listed at `GET /api/notifications`.
public enum Notifications {
    /// Records one, on the connection of the transaction that caused it.
    public static func record(
        _ sql: any SQLDatabase, organizationID: String, kind: String, title: String, message: String, subjectID: String?, now: Int64
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO notifications (id, organization_id, kind, title, message, subject_id, created_at)
            VALUES (\(bind: UUIDv7.generate()), \(bind: organizationID), \(bind: kind), \(bind: title), \(bind: message),
                \(bind: subjectID), \(bind: now))
            """
        ).run()
    }
}
