import SQLKit

/// SQL for organizations, users and refresh-token sessions.
struct IdentityStore: Sendable {
    let database: any Database

    private static let userColumns = """
        u.id, u.organization_id, u.email, u.name, u.role, u.password_hash, u.created_at, o.name AS organization_name, o.plan AS organization_plan
        """

    static func decodeUser(_ row: any SQLRow) throws -> UserRecord {
        UserRecord(
            id: try row.decode(column: "id", as: String.self),
            organizationID: try row.decode(column: "organization_id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .viewer,
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            organizationName: try row.decode(column: "organization_name", as: String.self),
            organizationPlan: try row.decode(column: "organization_plan", as: String.self)
        )
    }

    func user(email: String) async throws -> UserRecord? {
        try await database.read { sql in
            try await sql.raw(
                "SELECT \(unsafeRaw: Self.userColumns) FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.email = \(bind: email)"
            )
            .first().map(Self.decodeUser)
        }
    }

    func user(id: String) async throws -> UserRecord? {
        try await database.read { sql in
            try await Self.user(sql, id: id)
        }
    }

    /// The user with `id`, read on the given connection.
    static func user(_ sql: any SQLDatabase, id: String) async throws -> UserRecord? {
        try await sql.raw(
            "SELECT \(unsafeRaw: userColumns) FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.id = \(bind: id)"
        )
        .first().map(decodeUser)
    }

    /// Creates the user and, when `organizationID` is nil, a new organization they own.
    /// Returns nil when the email is taken.
    func createUser(
        email: String, name: String, passwordHash: String, role: Role, organizationID: String?, organizationName: String, now: Int64
    ) async throws -> UserRecord? {
        try await database.transaction { sql in
            if try await sql.raw("SELECT id FROM users WHERE email = \(bind: email)").first() != nil { return nil }
            let orgID: String
            if let organizationID {
                orgID = organizationID
            } else {
                orgID = UUIDv7.generate()
                try await sql.raw(
                    """
                    INSERT INTO organizations (id, name, plan, created_at, updated_at)
                    VALUES (\(bind: orgID), \(bind: organizationName), 'free', \(bind: now), \(bind: now))
                    """
                ).run()
            }
            let id = UUIDv7.generate()
            try await sql.raw(
                """
                INSERT INTO users (id, organization_id, email, name, password_hash, role, created_at, updated_at)
                VALUES (\(bind: id), \(bind: orgID), \(bind: email), \(bind: name), \(bind: passwordHash), \(bind: role.rawValue), \(bind: now), \(bind: now))
                """
            ).run()
            return try await Self.user(sql, id: id)
        }
    }

    func organizationID(named name: String) async throws -> String? {
        try await database.read { sql in
            try await sql.raw("SELECT id FROM organizations WHERE name = \(bind: name) ORDER BY created_at LIMIT 1").first()?
                .decode(column: "id", as: String.self)
        }
    }

    func updateUser(id: String, name: String?, passwordHash: String?, now: Int64) async throws {
        try await database.transaction { sql in
            if let name {
                try await sql.raw("UPDATE users SET name = \(bind: name), updated_at = \(bind: now) WHERE id = \(bind: id)").run()
                try await UserReference.rename(sql, userID: id, name: name)
            }
            if let passwordHash {
                try await sql.raw(
                    "UPDATE users SET password_hash = \(bind: passwordHash), updated_at = \(bind: now) WHERE id = \(bind: id)"
                ).run()
                // A new password ends every session.
                try await sql.raw("UPDATE refresh_tokens SET revoked_at = \(bind: now) WHERE user_id = \(bind: id) AND revoked_at IS NULL")
                    .run()
            }
        }
    }

    // MARK: Refresh tokens

    func insertRefreshToken(familyID: String, userID: String, hash: String, expiresAt: Int64, now: Int64) async throws {
        try await database.transaction { sql in
            try await Self.insertRefreshToken(sql, familyID: familyID, userID: userID, hash: hash, expiresAt: expiresAt, now: now)
        }
    }

    static func insertRefreshToken(_ sql: any SQLDatabase, familyID: String, userID: String, hash: String, expiresAt: Int64, now: Int64)
        async throws
    {
        try await sql.raw(
            """
            INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, created_at)
            VALUES (\(bind: UUIDv7.generate()), \(bind: familyID), \(bind: userID), \(bind: hash), \(bind: expiresAt), \(bind: now))
            """
        ).run()
    }

    enum RotationResult: Sendable {
        case rotated(user: UserRecord, familyID: String)
        case reused
        case invalid
    }

    /// Consumes the token with `hash` and stores `newHash` in its family. A token presented twice
    /// revokes the whole family (someone else has a copy).
    func rotate(hash: String, newHash: String, expiresAt: Int64, now: Int64) async throws -> RotationResult {
        try await database.transaction { sql in
            guard
                let row = try await sql.raw(
                    """
                    SELECT family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = \(bind: hash)
                    """
                ).first()
            else { return .invalid }
            let familyID = try row.decode(column: "family_id", as: String.self)
            let userID = try row.decode(column: "user_id", as: String.self)
            if try row.decode(column: "used_at", as: Int64?.self) != nil {
                try await sql.raw(
                    "UPDATE refresh_tokens SET revoked_at = \(bind: now) WHERE family_id = \(bind: familyID) AND revoked_at IS NULL"
                ).run()
                return .reused
            }
            guard try row.decode(column: "revoked_at", as: Int64?.self) == nil,
                try row.decode(column: "expires_at", as: Int64.self) > now
            else { return .invalid }
            // The conditional update makes two concurrent rotations of one token impossible.
            let claimed = try await sql.raw(
                """
                UPDATE refresh_tokens SET used_at = \(bind: now) WHERE token_hash = \(bind: hash) AND used_at IS NULL RETURNING id
                """
            ).all()
            guard !claimed.isEmpty else { return .reused }
            try await Self.insertRefreshToken(sql, familyID: familyID, userID: userID, hash: newHash, expiresAt: expiresAt, now: now)
            guard let user = try await Self.user(sql, id: userID) else { return .invalid }
            return .rotated(user: user, familyID: familyID)
        }
    }

    /// Revokes the family the token with `hash` belongs to; returns whether one was found.
    func revokeFamily(tokenHash: String, now: Int64) async throws {
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE refresh_tokens SET revoked_at = \(bind: now)
                WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = \(bind: tokenHash)) AND revoked_at IS NULL
                """
            ).run()
        }
    }

    func revokeFamily(id familyID: String, now: Int64) async throws {
        try await database.transaction { sql in
            try await sql.raw(
                "UPDATE refresh_tokens SET revoked_at = \(bind: now) WHERE family_id = \(bind: familyID) AND revoked_at IS NULL"
            ).run()
        }
    }
}
