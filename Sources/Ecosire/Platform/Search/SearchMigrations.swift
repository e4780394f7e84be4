/// The search index (`SearchIndex`). It comes after the products module's migrations, whose
/// records it starts with.
enum SearchMigrations {
    static let all: [Migration] = [
        Migration(
            "platform/006-search-documents",
            sqlite: [
                // An explicit INTEGER PRIMARY KEY: FTS5 follows rows by rowid, and VACUUM may
                // renumber implicit ones.
                table(id: "doc_id INTEGER PRIMARY KEY,\n    source_id TEXT NOT NULL UNIQUE", extra: ""),
                "CREATE INDEX search_documents_org ON search_documents (organization_id)",
                """
                CREATE VIRTUAL TABLE search_documents_fts USING fts5(
                    title, body, content='search_documents', content_rowid='doc_id', tokenize='porter unicode61 remove_diacritics 2')
                """,
                """
                CREATE TRIGGER search_documents_insert AFTER INSERT ON search_documents BEGIN
                    INSERT INTO search_documents_fts (rowid, title, body) VALUES (new.doc_id, new.title, new.body);
                END
                """,
                """
                CREATE TRIGGER search_documents_delete AFTER DELETE ON search_documents BEGIN
                    INSERT INTO search_documents_fts (search_documents_fts, rowid, title, body) VALUES ('delete', old.doc_id, old.title, old.body);
                END
                """,
                """
                CREATE TRIGGER search_documents_update AFTER UPDATE ON search_documents BEGIN
                    INSERT INTO search_documents_fts (search_documents_fts, rowid, title, body) VALUES ('delete', old.doc_id, old.title, old.body);
                    INSERT INTO search_documents_fts (rowid, title, body) VALUES (new.doc_id, new.title, new.body);
                END
                """,
                backfillProducts,
            ],
            postgres: [
                table(
                    id: "source_id TEXT PRIMARY KEY",
                    extra: """
                        ,
                            document tsvector GENERATED ALWAYS AS (
                                setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) STORED
                        """),
                "CREATE INDEX search_documents_org ON search_documents (organization_id)",
                "CREATE INDEX search_documents_document ON search_documents USING GIN (document)",
                backfillProducts,
            ]
        )
    ]

    /// The table, the same in both dialects but for PostgreSQL's `tsvector` column.
    static func table(id: String, extra: String) -> String {
        """
        CREATE TABLE search_documents (
            \(id),
            organization_id TEXT NOT NULL,
            source_type TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            url TEXT NOT NULL,
            updated_at BIGINT NOT NULL\(extra)
        )
        """
    }

    /// Products that existed before the index did (the products module keeps it current after).
    static let backfillProducts = """
        INSERT INTO search_documents (source_id, organization_id, source_type, title, body, url, updated_at)
        SELECT id, organization_id, 'product', name, COALESCE(description, '') || ' SKU: ' || sku || '.', '/api/products/' || id, updated_at
        FROM products
        """
}
