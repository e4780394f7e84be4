/// Products, their variants and their downloadable files.
enum ProductsMigrations {
    static let all: [Migration] = [
        .same(
            "products/001-products",
            [
                """
                CREATE TABLE products (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    description TEXT,
                    type TEXT NOT NULL,
                    category TEXT,
                    price BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    in_stock BOOLEAN NOT NULL,
                    images TEXT NOT NULL,
                    license_policy TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX products_org_sku ON products (organization_id, sku)",
                "CREATE INDEX products_org_created ON products (organization_id, created_at, id)",
                """
                CREATE TABLE product_variants (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    product_id TEXT NOT NULL REFERENCES products(id),
                    name TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    price BIGINT,
                    attributes TEXT NOT NULL,
                    in_stock BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX product_variants_org_sku ON product_variants (organization_id, sku)",
                "CREATE INDEX product_variants_product ON product_variants (organization_id, product_id, created_at, id)",
                """
                CREATE TABLE product_files (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    product_id TEXT NOT NULL REFERENCES products(id),
                    version TEXT NOT NULL,
                    filename TEXT NOT NULL,
                    size BIGINT NOT NULL,
                    sha256 TEXT NOT NULL,
                    storage_path TEXT NOT NULL,
                    uploaded_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX product_files_version ON product_files (product_id, version)",
            ]
        )
    ]
}
