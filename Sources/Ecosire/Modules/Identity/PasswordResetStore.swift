import SQLKit

/// SQL for password-reset tokens: single use, short-lived, only their SHA-256 stored.
struct PasswordResetStore: Sendable {
    let database: any Database
    let outbox: EmailOutbox

    /// How long a reset link works.
    static let lifetimeMillis: Int64 = 60 * 60 * 1000

    /// Stores a new token for `user` and queues the email carrying it, in one transaction. Earlier
    /// links keep working until one of them is used: emails may arrive in any order.
    func issue(for user: UserRecord, tokenHash: String, email: (subject: String, text: String, token: String), now: Int64)
        async throws
    {
        try await database.transaction { sql in
            try await sql.raw(
                """
                INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_at)
                VALUES (\(bind: UUIDv7.generate()), \(bind: user.id), \(bind: tokenHash), \(bind: now + Self.lifetimeMillis), \(bind: now))
                """
            ).run()
            try await outbox.enqueue(
                sql, organizationID: user.organizationID, to: EmailAddress(address: user.email, name: user.name),
                subject: email.subject, text: email.text, kind: "password_reset", secret: email.token)
        }
    }

    /// Uses the token with `tokenHash` to set `passwordHash`, ending every session of its user and
    /// cancelling its other links, in one transaction. Returns the user's id, or nil when the token is unknown, expired or used.
    func redeem(tokenHash: String, passwordHash: String, now: Int64) async throws -> String? {
        try await database.transaction { sql in
            // The conditional update makes two concurrent uses of one token impossible.
            guard
                let row = try await sql.raw(
                    """
                    UPDATE password_resets SET used_at = \(bind: now)
                    WHERE token_hash = \(bind: tokenHash) AND used_at IS NULL AND expires_at > \(bind: now)
                    RETURNING user_id
                    """
                ).first()
            else { return nil }
            let userID = try row.decode(column: "user_id", as: String.self)
            try await sql.raw("UPDATE password_resets SET used_at = \(bind: now) WHERE user_id = \(bind: userID) AND used_at IS NULL")
                .run()
            try await sql.raw(
                "UPDATE users SET password_hash = \(bind: passwordHash), updated_at = \(bind: now) WHERE id = \(bind: userID)"
            ).run()
            try await sql.raw("UPDATE refresh_tokens SET revoked_at = \(bind: now) WHERE user_id = \(bind: userID) AND revoked_at IS NULL")
                .run()
            return userID
        }
    }
}
