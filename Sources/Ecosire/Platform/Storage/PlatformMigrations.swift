/// Tables of the platform layer: shared rate-limit counters, idempotency records, and API keys with
/// their usage and audit log (verified on every request by `APIKeyVerifier`).
enum PlatformMigrations {
    static let all: [Migration] = [
        .same(
            "platform/001-rate-limit-counters",
            [
                """
                CREATE TABLE rate_limit_counters (
                    bucket TEXT NOT NULL,
                    window_start BIGINT NOT NULL,
                    hits INTEGER NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (bucket, window_start)
                )
                """,
                "CREATE INDEX rate_limit_counters_expiry ON rate_limit_counters (expires_at)",
            ]
        ),
        .same(
            "platform/002-idempotency-records",
            [
                """
                CREATE TABLE idempotency_records (
                    owner TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    request_hash TEXT NOT NULL,
                    status INTEGER,
                    response_headers TEXT,
                    response_body TEXT,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (owner, idempotency_key)
                )
                """,
                "CREATE INDEX idempotency_records_created ON idempotency_records (created_at)",
            ]
        ),
        .same(
            "platform/003-api-keys",
            [
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    user_id TEXT NOT NULL REFERENCES users(id),
                    name TEXT,
                    prefix TEXT NOT NULL,
                    secret_hash TEXT NOT NULL UNIQUE,
                    scope TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    last_used_at BIGINT,
                    revoked_at BIGINT,
                    rotated_from TEXT,
                    rotated_at BIGINT
                )
                """,
                "CREATE INDEX api_keys_user ON api_keys (user_id, created_at, id)",
                """
                CREATE TABLE api_key_usage (
                    key_id TEXT NOT NULL REFERENCES api_keys(id),
                    day TEXT NOT NULL,
                    requests INTEGER NOT NULL,
                    errors INTEGER NOT NULL,
                    PRIMARY KEY (key_id, day)
                )
                """,
                """
                CREATE TABLE api_key_audit (
                    id TEXT PRIMARY KEY,
                    key_id TEXT NOT NULL REFERENCES api_keys(id),
                    occurred_at BIGINT NOT NULL,
                    method TEXT NOT NULL,
                    path TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    ip TEXT NOT NULL,
                    latency_ms INTEGER NOT NULL,
                    request_id TEXT NOT NULL
                )
                """,
                "CREATE INDEX api_key_audit_key ON api_key_audit (key_id, occurred_at, id)",
            ]
        ),
        .same(
            "platform/002-events-and-sequences",
            [
                """
                CREATE TABLE events (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX events_org_created ON events (organization_id, created_at, id)",
                """
                CREATE TABLE reference_sequences (
                    organization_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    year INTEGER NOT NULL,
                    last_value INTEGER NOT NULL,
                    PRIMARY KEY (organization_id, name, year)
                )
                """,
            ]
        ),
        .same(
            "platform/004-webhooks",
            [
                // Events recorded before delivery existed are not fanned out.
                "ALTER TABLE events ADD COLUMN dispatched_at BIGINT",
                "UPDATE events SET dispatched_at = created_at",
                "CREATE INDEX events_undispatched ON events (created_at) WHERE dispatched_at IS NULL",
                """
                CREATE TABLE webhook_endpoints (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    url TEXT NOT NULL,
                    events TEXT NOT NULL,
                    description TEXT,
                    active BOOLEAN NOT NULL,
                    disabled_reason TEXT,
                    failing_since BIGINT,
                    secret_sealed TEXT,
                    previous_secret_sealed TEXT,
                    previous_secret_expires_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX webhook_endpoints_org ON webhook_endpoints (organization_id, created_at, id)",
                """
                CREATE TABLE webhook_deliveries (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
                    event_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    test BOOLEAN NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt_at BIGINT,
                    lease_until BIGINT,
                    last_response_code INTEGER,
                    last_error TEXT,
                    delivered_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'",
                "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id)",
                "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE status <> 'pending'",
                """
                CREATE TABLE webhook_attempts (
                    id TEXT PRIMARY KEY,
                    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
                    attempt INTEGER NOT NULL,
                    attempted_at BIGINT NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    response_code INTEGER,
                    response_body TEXT,
                    error TEXT,
                    succeeded BOOLEAN NOT NULL
                )
                """,
                "CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at)",
                """
                CREATE TABLE notifications (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    title TEXT NOT NULL,
                    message TEXT NOT NULL,
                    subject_id TEXT,
                    created_at BIGINT NOT NULL,
                    read_at BIGINT
                )
                """,
                "CREATE INDEX notifications_org ON notifications (organization_id, created_at, id)",
            ]
        ),
        .same(
            "platform/005-email-outbox",
            [
                """
                CREATE TABLE email_outbox (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    to_address TEXT NOT NULL,
                    to_name TEXT,
                    subject TEXT NOT NULL,
                    body TEXT NOT NULL,
                    headers TEXT,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    lease_until BIGINT,
                    last_error TEXT,
                    server_response TEXT,
                    message_id TEXT NOT NULL,
                    related_type TEXT,
                    related_id TEXT,
                    sent_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at)",
                "CREATE INDEX email_outbox_org ON email_outbox (organization_id, created_at, id)",
            ]
        ),
        // SQLite only: see `RecordDocuments`.
        Migration(
            "platform/006-record-documents",
            sqlite: [
                "CREATE TABLE record_documents (table_name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)",
                """
                CREATE TABLE record_counts (
                    table_name TEXT NOT NULL,
                    organization_id TEXT NOT NULL,
                    total BIGINT NOT NULL,
                    PRIMARY KEY (table_name, organization_id)
                )
                """,
            ],
            postgres: []
        ),
        // A message carrying a one-time secret (a confirmation link) keeps the full text sealed with
        // the server's SecretBox until it is sent; `body` holds it with the secret redacted.
        .same("platform/007-email-sealed-body", ["ALTER TABLE email_outbox ADD COLUMN sealed_body TEXT"]),
        // An idempotency claim names the process holding it; a process renews its lease every
        // second while it runs, so a claim whose holder died is given up within seconds.
        .same(
            "platform/008-idempotency-holders",
            [
                "ALTER TABLE idempotency_records ADD COLUMN holder TEXT",
                "CREATE TABLE process_leases (holder TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
            ]
        ),
    ]
}
