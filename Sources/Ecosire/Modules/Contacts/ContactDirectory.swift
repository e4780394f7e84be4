import SQLKit

/// The contacts module's public interface for modules that link records to contacts.
public struct ContactDirectory: Sendable {
    let clock: WallClock

    /// `{id, name, email}` of a contact in the organization, or nil.
    public func reference(_ sql: any SQLDatabase, organizationID: String, id: String) async throws -> JSONValue? {
        guard
            let row = try await sql.raw(
                "SELECT id, name, email FROM contacts WHERE id = \(bind: id) AND organization_id = \(bind: organizationID)"
            ).first()
        else { return nil }
        return .object([
            "id": .string(try row.decode(column: "id", as: String.self)), "name": .string(try row.decode(column: "name", as: String.self)),
            "email": try row.decode(column: "email", as: String?.self).map { .string($0) } ?? .null,
        ])
    }

    /// Resolves a write's `contactId` (when it has one) into the `contact` snapshot stored beside it;
    /// a 422 naming `contactId` when it names no contact of the organization.
    public func attach(to values: inout JSONObject, _ write: ResourceWrite) async throws {
        if values["contactId"]?.isNull == true { values["contact"] = .null }
        if let contact = try await check(in: &values, write) { values["contact"] = contact }
    }

    /// Checks a write's `contactId` (when it has one) names a contact of the organization and
    /// stores it lowercase; returns the contact's reference. A 422 naming `contactId` otherwise.
    @discardableResult
    public func check(in values: inout JSONObject, _ write: ResourceWrite) async throws -> JSONValue? {
        guard let contactID = values["contactId"]?.stringValue?.lowercased() else { return nil }
        guard let contact = try await reference(write.sql, organizationID: write.organizationID, id: contactID) else {
            throw APIError.validation(field: "contactId", "No such contact")
        }
        values["contactId"] = .string(contactID)
        return contact
    }

    /// Appends an entry to the contact's timeline, inside the caller's transaction.
    public func recordActivity(
        _ sql: any SQLDatabase, organizationID: String, contactID: String, kind: String, summary: String, data: JSONValue = .null
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO contact_activities (id, organization_id, contact_id, kind, summary, data, occurred_at)
            VALUES (\(bind: UUIDv7.generate()), \(bind: organizationID), \(bind: contactID), \(bind: kind), \(bind: summary),
                    \(bind: data.isNull ? nil : data.jsonString), \(bind: clock.nowMillis()))
            """
        ).run()
    }

    /// The contact with this email, created (as a person) when there is none; returns its reference
    /// and whether it was created. `source` completes the timeline entry ("Contact created from …").
    public func findOrCreate(
        _ sql: any SQLDatabase, organizationID: String, email: String, name: String?, phone: String? = nil, source: String = "a checkout"
    ) async throws -> (contact: JSONValue, created: Bool) {
        let email = email.lowercased()
        if let row = try await sql.raw(
            "SELECT id FROM contacts WHERE organization_id = \(bind: organizationID) AND email = \(bind: email)"
        ).first(), let found = try await reference(sql, organizationID: organizationID, id: try row.decode(column: "id", as: String.self)) {
            return (found, false)
        }
        let id = UUIDv7.generate()
        let now = clock.nowMillis()
        let displayName = (name?.isEmpty == false ? name! : String(email.split(separator: "@").first ?? Substring(email)))
        // Two first requests from one address (a double-clicked form) must not collide on the
        // unique email: the later one finds the earlier one's contact.
        let inserted = try await sql.raw(
            """
            INSERT INTO contacts (id, organization_id, name, email, phone, type, tags, created_at, updated_at)
            VALUES (\(bind: id), \(bind: organizationID), \(bind: String(displayName.prefix(255))), \(bind: email), \(bind: phone), 'person', '[]',
                    \(bind: now), \(bind: now))
            ON CONFLICT (organization_id, email) DO NOTHING
            RETURNING id
            """
        ).first()
        if inserted == nil {
            guard
                let row = try await sql.raw(
                    "SELECT id FROM contacts WHERE organization_id = \(bind: organizationID) AND email = \(bind: email)"
                ).first(),
                let found = try await reference(sql, organizationID: organizationID, id: try row.decode(column: "id", as: String.self))
            else { throw APIError.internalError }
            return (found, false)
        }
        try await recordActivity(
            sql, organizationID: organizationID, contactID: id, kind: "created", summary: "Contact created from " + source)
        return (.object(["id": .string(id), "name": .string(String(displayName.prefix(255))), "email": .string(email)]), true)
    }
}
