/// Invoices, credit notes and the payments ledger.
enum InvoicesMigrations {
    static let all: [Migration] = [
        .same(
            "invoices/001-invoices",
            [
                """
                CREATE TABLE invoices (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    number TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    status TEXT NOT NULL,
                    contact_id TEXT NOT NULL,
                    contact TEXT NOT NULL,
                    order_id TEXT,
                    line_items TEXT NOT NULL,
                    subtotal BIGINT NOT NULL,
                    tax_rate INTEGER NOT NULL,
                    tax_amount BIGINT NOT NULL,
                    total BIGINT NOT NULL,
                    amount_paid BIGINT NOT NULL,
                    amount_due BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    invoice_date TEXT NOT NULL,
                    due_date TEXT NOT NULL,
                    notes TEXT,
                    credited_invoice_id TEXT,
                    credit_note_id TEXT,
                    sent_at TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX invoices_number ON invoices (organization_id, number)",
                "CREATE INDEX invoices_org_created ON invoices (organization_id, created_at, id)",
                "CREATE INDEX invoices_order ON invoices (organization_id, order_id)",
                "CREATE INDEX invoices_org_due ON invoices (organization_id, status, due_date)",
                """
                CREATE TABLE invoice_payments (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    invoice_id TEXT NOT NULL REFERENCES invoices(id),
                    amount BIGINT NOT NULL,
                    method TEXT NOT NULL,
                    paid_on TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX invoice_payments_invoice ON invoice_payments (invoice_id, created_at)",
            ]
        )
    ]
}
