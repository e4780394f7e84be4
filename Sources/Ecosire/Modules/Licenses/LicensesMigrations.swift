/// Licenses and their activations.
enum LicensesMigrations {
    static let all: [Migration] = [
        .same(
            "licenses/001-licenses",
            [
                """
                CREATE TABLE licenses (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    product_id TEXT NOT NULL,
                    license_key TEXT NOT NULL,
                    status TEXT NOT NULL,
                    status_reason TEXT,
                    activations_count INTEGER NOT NULL,
                    activations_limit INTEGER NOT NULL,
                    expires_at BIGINT,
                    updates_until BIGINT,
                    owner_user_id TEXT,
                    contact_id TEXT,
                    order_id TEXT,
                    subscription_id TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX licenses_key ON licenses (license_key)",
                "CREATE INDEX licenses_org_created ON licenses (organization_id, created_at, id)",
                "CREATE INDEX licenses_order ON licenses (order_id)",
                "CREATE INDEX licenses_subscription ON licenses (subscription_id)",
                """
                CREATE TABLE license_activations (
                    id TEXT PRIMARY KEY,
                    license_id TEXT NOT NULL REFERENCES licenses(id),
                    domain TEXT NOT NULL,
                    activated_at BIGINT NOT NULL,
                    deactivated_at BIGINT,
                    last_validated_at BIGINT
                )
                """,
                "CREATE UNIQUE INDEX license_activations_active ON license_activations (license_id, domain) WHERE deactivated_at IS NULL",
                "CREATE INDEX license_activations_license ON license_activations (license_id, activated_at, id)",
            ]
        )
    ]
}
