/// Sales orders.
enum OrdersMigrations {
    static let all: [Migration] = [
        .same(
            "orders/001-orders",
            [
                """
                CREATE TABLE orders (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    reference TEXT NOT NULL,
                    status TEXT NOT NULL,
                    contact_id TEXT NOT NULL,
                    contact TEXT NOT NULL,
                    line_items TEXT NOT NULL,
                    subtotal BIGINT NOT NULL,
                    tax_rate INTEGER NOT NULL,
                    tax_amount BIGINT NOT NULL,
                    total BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    payment_status TEXT NOT NULL,
                    amount_refunded BIGINT NOT NULL,
                    notes TEXT,
                    owner_user_id TEXT,
                    stripe_checkout_session_id TEXT,
                    stripe_payment_intent_id TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX orders_reference ON orders (organization_id, reference)",
                "CREATE INDEX orders_org_created ON orders (organization_id, created_at, id)",
                "CREATE INDEX orders_payment_intent ON orders (stripe_payment_intent_id)",
                "CREATE UNIQUE INDEX orders_checkout_session ON orders (stripe_checkout_session_id)",
            ]
        )
    ]
}
