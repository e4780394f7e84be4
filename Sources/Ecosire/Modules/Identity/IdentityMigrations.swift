/// Organizations, users, refresh-token sessions and password resets.
enum IdentityMigrations {
    static let all: [Migration] = [
        .same(
            "identity/001-organizations-users",
            [
                """
                CREATE TABLE organizations (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    plan TEXT NOT NULL DEFAULT 'free',
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    email TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    role TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX users_organization ON users (organization_id)",
                """
                CREATE TABLE refresh_tokens (
                    id TEXT PRIMARY KEY,
                    family_id TEXT NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users(id),
                    token_hash TEXT NOT NULL UNIQUE,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT,
                    revoked_at BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
            ]
        ),
        .same(
            "identity/002-password-resets",
            [
                """
                CREATE TABLE password_resets (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id),
                    token_hash TEXT NOT NULL UNIQUE,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX password_resets_user ON password_resets (user_id)",
            ]
        ),
    ]
}
