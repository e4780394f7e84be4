import SQLKit

/// The identity module's public interface for records that point at users (assignees, owners,
/// team members).
public enum UserDirectory {
    /// Throws a 422 naming `field` unless `userID` is a user of the organization (other
    /// organizations' users do not exist for the caller).
    public static func requireMember(_ sql: any SQLDatabase, organizationID: String, userID: String, field: String) async throws {
        let found = try await sql.raw(
            "SELECT id FROM users WHERE id = \(bind: userID.lowercased()) AND organization_id = \(bind: organizationID)"
        ).first()
        if found == nil { throw APIError.validation(field: field, "No such user in the organization") }
    }

    /// `{id, name}` of a user of the organization (what records embed beside a user id), or nil.
    public static func reference(_ sql: any SQLDatabase, organizationID: String, userID: String) async throws -> JSONValue? {
        guard let name = try await name(sql, organizationID: organizationID, userID: userID.lowercased()) else { return nil }
        return ["id": .string(userID.lowercased()), "name": .string(name)]
    }

    /// The display name of a user of the organization, or nil.
    public static func name(_ sql: any SQLDatabase, organizationID: String, userID: String) async throws -> String? {
        try await sql.raw("SELECT name FROM users WHERE id = \(bind: userID) AND organization_id = \(bind: organizationID)").first()?
            .decode(column: "name", as: String.self)
    }
}

/// A table column that points at a user, with the column holding that user's `{id, name}`
/// snapshot beside it; a user's new name is written into these snapshots in the same transaction.
public struct UserReference: Sendable {
    public var table: String
    public var column: String
    public var snapshot: String

    public init(table: String, column: String, snapshot: String) {
        self.table = table
        self.column = column
        self.snapshot = snapshot
    }

    /// Every user snapshot of the server.
    static let all: [UserReference] = [
        UserReference(table: "helpdesk_tickets", column: "assignee_id", snapshot: "assignee")
    ]

    /// Rewrites the snapshots of the user `id` to carry `name`, inside the caller's transaction.
    static func rename(_ sql: any SQLDatabase, userID id: String, name: String) async throws {
        let snapshot = (["id": .string(id), "name": .string(name)] as JSONValue).jsonString
        for reference in all {
            try await sql.raw(
                "UPDATE \(ident: reference.table) SET \(ident: reference.snapshot) = \(bind: snapshot) WHERE \(ident: reference.column) = \(bind: id)"
            ).run()
        }
    }
}
