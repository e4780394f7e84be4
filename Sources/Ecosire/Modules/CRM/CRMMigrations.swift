/// CRM pipeline stages, leads and opportunities.
enum CRMMigrations {
    static let all: [Migration] = [
        .same(
            "crm/001-crm",
            [
                """
                CREATE TABLE crm_stages (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    probability INTEGER NOT NULL,
                    won BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX crm_stages_name ON crm_stages (organization_id, name)",
                """
                CREATE TABLE crm_leads (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    contact_id TEXT,
                    email TEXT,
                    phone TEXT,
                    company TEXT,
                    source TEXT,
                    status TEXT NOT NULL,
                    score INTEGER NOT NULL,
                    message TEXT,
                    utm TEXT,
                    opportunity_id TEXT,
                    lost_reason TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX crm_leads_org_created ON crm_leads (organization_id, created_at, id)",
                "CREATE INDEX crm_leads_org_email ON crm_leads (organization_id, email)",
                """
                CREATE TABLE crm_opportunities (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    contact_id TEXT,
                    contact TEXT,
                    stage_id TEXT NOT NULL,
                    stage TEXT NOT NULL,
                    expected_revenue BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    probability INTEGER NOT NULL,
                    expected_close TEXT,
                    owner_id TEXT,
                    status TEXT NOT NULL,
                    lost_reason TEXT,
                    closed_at BIGINT,
                    lead_id TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX crm_opportunities_org_created ON crm_opportunities (organization_id, created_at, id)",
                "CREATE INDEX crm_opportunities_stage ON crm_opportunities (organization_id, stage_id)",
            ]
        )
    ]
}
