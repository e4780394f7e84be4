/// Newsletter subscribers (double opt-in).
enum NewsletterMigrations {
    static let all: [Migration] = [
        .same(
            "newsletter/001-subscribers",
            [
                """
                CREATE TABLE newsletter_subscribers (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    email TEXT NOT NULL,
                    name TEXT,
                    lists TEXT NOT NULL,
                    status TEXT NOT NULL,
                    confirm_token_hash TEXT,
                    confirm_expires_at BIGINT,
                    confirmation_sent_at BIGINT,
                    consent_ip TEXT,
                    confirmed_at BIGINT,
                    unsubscribed_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX newsletter_subscribers_email ON newsletter_subscribers (organization_id, email)",
                "CREATE INDEX newsletter_subscribers_org_created ON newsletter_subscribers (organization_id, created_at, id)",
                "CREATE UNIQUE INDEX newsletter_subscribers_token ON newsletter_subscribers (confirm_token_hash)",
            ]
        )
    ]
}
