/// Knowledge articles and FAQ entries (indexed by `SearchIndex`).
enum KnowledgeMigrations {
    static let all: [Migration] = [
        .same(
            "knowledge/001-articles",
            [
                """
                CREATE TABLE knowledge_articles (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    url TEXT,
                    tags TEXT NOT NULL,
                    published BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX knowledge_articles_org_created ON knowledge_articles (organization_id, created_at, id)",
            ]
        )
    ]
}
