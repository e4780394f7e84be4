/// Helpdesk tickets, their messages, teams and SLA policies.
enum HelpdeskMigrations {
    static let all: [Migration] = [
        .same(
            "helpdesk/001-helpdesk",
            [
                """
                CREATE TABLE helpdesk_teams (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    description TEXT,
                    email TEXT,
                    member_ids TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX helpdesk_teams_name ON helpdesk_teams (organization_id, name)",
                """
                CREATE TABLE helpdesk_sla_policies (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    name TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    team_id TEXT,
                    first_response_minutes INTEGER NOT NULL,
                    resolution_minutes INTEGER NOT NULL,
                    active BOOLEAN NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX helpdesk_sla_policies_org ON helpdesk_sla_policies (organization_id, priority)",
                """
                CREATE TABLE helpdesk_tickets (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations(id),
                    ticket_number TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    description TEXT,
                    status TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    contact_id TEXT,
                    contact TEXT,
                    assignee_id TEXT,
                    team_id TEXT,
                    product TEXT,
                    tags TEXT NOT NULL,
                    sla_policy_id TEXT,
                    first_response_due_at BIGINT,
                    sla_due_at BIGINT,
                    first_responded_at BIGINT,
                    resolved_at BIGINT,
                    closed_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX helpdesk_tickets_number ON helpdesk_tickets (organization_id, ticket_number)",
                "CREATE INDEX helpdesk_tickets_org_created ON helpdesk_tickets (organization_id, created_at, id)",
                "CREATE INDEX helpdesk_tickets_org_status ON helpdesk_tickets (organization_id, status)",
                "CREATE INDEX helpdesk_tickets_contact ON helpdesk_tickets (contact_id)",
                """
                CREATE TABLE helpdesk_ticket_messages (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL,
                    ticket_id TEXT NOT NULL REFERENCES helpdesk_tickets(id) ON DELETE CASCADE,
                    author_type TEXT NOT NULL,
                    author_user_id TEXT,
                    author_name TEXT,
                    body TEXT NOT NULL,
                    internal BOOLEAN NOT NULL,
                    email_id TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX helpdesk_ticket_messages_ticket ON helpdesk_ticket_messages (ticket_id, created_at, id)",
            ]
        ),
        // Tickets embed their assignee and team as `{id, name}` beside the ids (the public docs'
        // ticket object); existing tickets get theirs from the users and teams they point at.
        Migration(
            "helpdesk/002-ticket-assignee-team",
            sqlite: [
                "ALTER TABLE helpdesk_tickets ADD COLUMN assignee TEXT",
                "ALTER TABLE helpdesk_tickets ADD COLUMN team TEXT",
                """
                UPDATE helpdesk_tickets SET assignee = (
                    SELECT json_object('id', u.id, 'name', u.name) FROM users u WHERE u.id = helpdesk_tickets.assignee_id)
                WHERE assignee_id IS NOT NULL
                """,
                """
                UPDATE helpdesk_tickets SET team = (
                    SELECT json_object('id', t.id, 'name', t.name) FROM helpdesk_teams t WHERE t.id = helpdesk_tickets.team_id)
                WHERE team_id IS NOT NULL
                """,
            ],
            postgres: [
                "ALTER TABLE helpdesk_tickets ADD COLUMN assignee TEXT",
                "ALTER TABLE helpdesk_tickets ADD COLUMN team TEXT",
                """
                UPDATE helpdesk_tickets k SET assignee = jsonb_build_object('id', u.id, 'name', u.name)::text
                FROM users u WHERE u.id = k.assignee_id
                """,
                """
                UPDATE helpdesk_tickets k SET team = jsonb_build_object('id', t.id, 'name', t.name)::text
                FROM helpdesk_teams t WHERE t.id = k.team_id
                """,
            ]
        ),
    ]
}
