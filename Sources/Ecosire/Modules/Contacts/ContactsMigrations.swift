/// The contacts table and the activity timeline.
enum ContactsMigrations {
    static let all: [Migration] = [
        .same(
            "contacts/001-contacts",
            [
                """
                CREATE TABLE contacts (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    email TEXT,
                    phone TEXT,
                    type TEXT NOT NULL,
                    website TEXT,
                    address TEXT,
                    tags TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX contacts_org_email ON contacts (organization_id, email)",
                "CREATE INDEX contacts_org_created ON contacts (organization_id, created_at, id)",
                "CREATE INDEX contacts_org_name ON contacts (organization_id, name, id)",
                """
                CREATE TABLE contact_activities (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    contact_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    data TEXT,
                    occurred_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX contact_activities_contact ON contact_activities (organization_id, contact_id, occurred_at, id)",
            ]
        )
    ]
}
