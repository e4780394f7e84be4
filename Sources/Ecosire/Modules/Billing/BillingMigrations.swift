/// Stripe events received, subscriptions, billing invoices, payment methods and payment failures.
enum BillingMigrations {
    static let all: [Migration] = [
        .same(
            "billing/001-billing",
            [
                """
                CREATE TABLE stripe_events (
                    id TEXT PRIMARY KEY,
                    type TEXT NOT NULL,
                    organization_id TEXT,
                    outcome TEXT NOT NULL,
                    received_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE subscriptions (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    user_id TEXT,
                    stripe_subscription_id TEXT NOT NULL,
                    stripe_customer_id TEXT,
                    status TEXT NOT NULL,
                    current_period_start BIGINT,
                    current_period_end BIGINT,
                    cancel_at_period_end BOOLEAN NOT NULL,
                    items TEXT NOT NULL,
                    order_id TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX subscriptions_stripe ON subscriptions (stripe_subscription_id)",
                "CREATE INDEX subscriptions_org ON subscriptions (organization_id, created_at, id)",
                """
                CREATE TABLE billing_invoices (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    subscription_id TEXT,
                    stripe_invoice_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    amount_paid BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    period_start BIGINT,
                    period_end BIGINT,
                    hosted_invoice_url TEXT,
                    paid_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX billing_invoices_stripe ON billing_invoices (stripe_invoice_id)",
                "CREATE INDEX billing_invoices_org ON billing_invoices (organization_id, created_at, id)",
                """
                CREATE TABLE payment_methods (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    user_id TEXT NOT NULL,
                    stripe_payment_method_id TEXT NOT NULL,
                    brand TEXT NOT NULL,
                    last4 TEXT NOT NULL,
                    exp_month INTEGER NOT NULL,
                    exp_year INTEGER NOT NULL,
                    is_default BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX payment_methods_stripe ON payment_methods (organization_id, stripe_payment_method_id)",
                """
                CREATE TABLE payment_failures (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    order_id TEXT,
                    subscription_id TEXT,
                    stripe_payment_intent_id TEXT NOT NULL,
                    amount BIGINT,
                    currency TEXT,
                    failure_code TEXT,
                    failure_message TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX payment_failures_org ON payment_failures (organization_id, created_at, id)",
            ]
        )
    ]
}
