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

    /// The display name of a user of the organization, or nil.
    public static func name(_ sql: any SQLDatabase, organizationID: String, userID: String) async throws -> String? {
        try await sql.raw("SELECT name FROM users WHERE id = \(bind: userID) AND organization_id = \(bind: organizationID)").first()?
            .decode(column: "name", as: String.self)
    }
}
