import HTTPTypes
import SQLKit

/// Pipeline stages: ordered, each with a default win probability; `won` stages hold won deals.
enum StageResource {
    /// What an organization starts with (created the first time its pipeline is needed).
    static let defaults: [(name: String, probability: Int, won: Bool)] = [
        ("New", 10, false), ("Qualified", 30, false), ("Proposition", 60, false), ("Won", 100, true),
    ]

    static func resource(clock: WallClock) -> Resource {
        var resource = Resource(
            singular: "Stage", plural: "Stages", tag: "CRM", path: "/api/crm/stages", table: "crm_stages",
            fields: [
                ResourceField("name", schema: .string(minLength: 1, maxLength: 100), required: true, unique: true),
                ResourceField(
                    "sequence", schema: Schema.integer(minimum: 0, maximum: 10_000).describe("Position in the pipeline, lowest first"),
                    storage: .integer, default: 100),
                ResourceField(
                    "probability", schema: Schema.integer(minimum: 0, maximum: 100).describe("Default win probability, percent"),
                    storage: .integer, default: 10),
                ResourceField("won", schema: Schema.boolean.describe("Deals marked won move here"), storage: .boolean, default: false),
            ],
            sortable: ["sequence", "name", "createdAt", "updatedAt"], searchable: ["name"],
            example: ["name": "Negotiation", "sequence": 35, "probability": 75],
            prepare: { _, write in
                // The defaults come first, also when an admin's first pipeline act is adding a stage.
                if write.before == nil {
                    try await ensureDefaults(write.sql, organizationID: write.organizationID, now: clock.nowMillis())
                }
            },
            onChange: { change, sql, organizationID in
                if case .updated(let before, let after) = change, before["name"] != after["name"] {
                    try await sql.raw(
                        """
                        UPDATE crm_opportunities SET stage = \(bind: after["name"]?.stringValue ?? "")
                        WHERE organization_id = \(bind: organizationID) AND stage_id = \(bind: after["id"]?.stringValue ?? "")
                        """
                    ).run()
                }
                guard case .deleted(let stage) = change else { return }
                let used =
                    try await sql.raw(
                        """
                        SELECT COUNT(*) AS n FROM crm_opportunities
                        WHERE organization_id = \(bind: organizationID) AND stage_id = \(bind: stage["id"]?.stringValue ?? "")
                        """
                    ).first()?.decode(column: "n", as: Int.self) ?? 0
                if used > 0 { throw APIError.conflict("\(used) opportunity(ies) are in this stage; move them first") }
            }
        )
        resource.defaultSort = ("sequence", false)
        resource.conflictsOnChange = true
        return resource
    }

    /// Creates the default stages when the organization has none.
    static func ensureDefaults(_ sql: any SQLDatabase, organizationID: String, now: Int64) async throws {
        let count =
            try await sql.raw("SELECT COUNT(*) AS n FROM crm_stages WHERE organization_id = \(bind: organizationID)").first()?
            .decode(column: "n", as: Int.self) ?? 0
        guard count == 0 else { return }
        for (index, stage) in defaults.enumerated() {
            try await sql.raw(
                """
                INSERT INTO crm_stages (id, organization_id, name, sequence, probability, won, created_at, updated_at)
                VALUES (\(bind: UUIDv7.generate()), \(bind: organizationID), \(bind: stage.name), \(bind: (index + 1) * 10),
                        \(bind: stage.probability), \(bind: stage.won), \(bind: now), \(bind: now))
                ON CONFLICT (organization_id, name) DO NOTHING
                """
            ).run()
        }
    }

    struct Stage: Sendable {
        var id: String
        var name: String
        var probability: Int
        var won: Bool
    }

    /// The stage with this id, the first won stage, or the first stage of the pipeline.
    static func find(_ sql: any SQLDatabase, organizationID: String, id: String? = nil, won: Bool? = nil) async throws -> Stage? {
        var condition: SQLQueryString = "organization_id = \(bind: organizationID)"
        if let id { condition = "\(condition) AND id = \(bind: id.lowercased())" }
        if let won { condition = "\(condition) AND won = \(bind: won)" }
        guard
            let row = try await sql.raw(
                "SELECT id, name, probability, won FROM crm_stages WHERE \(condition) ORDER BY sequence, created_at, id LIMIT 1"
            ).first()
        else { return nil }
        return Stage(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            probability: try row.decode(column: "probability", as: Int.self), won: try row.decode(column: "won", as: Bool.self))
    }
}

/// Leads: people who showed interest, before there is a deal.
enum LeadResource {
    static let statuses = ["new", "qualified", "lost"]

    static let utm = Schema.object(
        ["source", "medium", "campaign", "term", "content"].map { .init($0, .string(maxLength: 200)) }
    ).named("UTMParameters")

    static let fields: [ResourceField] = [
        ResourceField("name", schema: .string(minLength: 1, maxLength: 200), required: true),
        ResourceField("contactId", schema: .uuid),
        ResourceField("email", schema: .email, normalize: { .string($0.stringValue?.lowercased() ?? "") }),
        ResourceField("phone", schema: .string(maxLength: 50)),
        ResourceField("company", schema: .string(maxLength: 200)),
        ResourceField("source", schema: Schema.string(minLength: 1, maxLength: 100).describe("website, referral, event, …")),
        ResourceField("status", schema: .enumeration(statuses), default: "new"),
        ResourceField("score", schema: Schema.integer(minimum: 0, maximum: 100).describe("0 to 100"), storage: .integer, default: 0),
        ResourceField("message", schema: .string(maxLength: 10_000)),
        ResourceField("utm", schema: utm, storage: .json),
        ResourceField("opportunityId", schema: Schema.uuid.describe("Set when the lead is converted"), writable: false),
        ResourceField("lostReason", schema: .string(maxLength: 500)),
    ]

    static func resource(contacts: ContactDirectory) -> Resource {
        var resource = Resource(
            singular: "Lead", plural: "Leads", tag: "CRM", path: "/api/crm/leads", table: "crm_leads", fields: fields,
            sortable: ["createdAt", "updatedAt", "name", "score", "status"], searchable: ["name", "email", "company"],
            filters: [
                .equals("status", column: "status", schema: .enumeration(statuses), description: "Only leads in this status"),
                .equals(
                    "source", column: "source", schema: .string(minLength: 1, maxLength: 100), description: "Only leads from this source"),
                .reference("contactId", column: "contact_id", description: "Only this contact's leads"),
            ],
            example: [
                "name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines", "source": "website", "score": 40,
            ],
            eventPrefix: "lead",
            prepare: { values, write in
                if let before = write.before, before["opportunityId"]?.stringValue != nil, values["status"] != nil {
                    var error = APIError.invalidState(
                        current: before["status"]?.stringValue ?? "", action: "change the status of", noun: "a converted lead")
                    error.details = [FieldIssue(field: "status", message: "The lead was converted")]
                    throw error
                }
                try await contacts.check(in: &values, write)
            }
        )
        resource.conflictsOnChange = true
        return resource
    }
}

/// Opportunities: deals moving through the pipeline until won or lost.
enum OpportunityResource {
    static let statuses = ["open", "won", "lost"]

    static let fields: [ResourceField] = [
        ResourceField("name", schema: .string(minLength: 1, maxLength: 200), required: true),
        ResourceField("contactId", schema: .uuid),
        ResourceField("contact", schema: OrderResource.contactReference, storage: .json, writable: false),
        ResourceField("stageId", schema: Schema.uuid.describe("The pipeline stage (default: the first)")),
        ResourceField("stage", schema: Schema.string().describe("The stage's name"), writable: false),
        ResourceField(
            "expectedRevenue", schema: Schema.integer(minimum: 0, maximum: 1_000_000_000_000_000).describe("Minor units (cents)"),
            storage: .integer, default: 0),
        ResourceField(
            "currency", schema: Schema.string(minLength: 3, maxLength: 3).matching("^[a-z]{3}$"), default: "usd",
            normalize: { .string($0.stringValue?.lowercased() ?? "usd") }),
        ResourceField(
            "probability", schema: Schema.integer(minimum: 0, maximum: 100).describe("Percent (default: the stage's)"),
            storage: .integer, default: 0),
        ResourceField("expectedClose", schema: Schema.string(format: "date").describe("YYYY-MM-DD")),
        ResourceField("ownerId", schema: Schema.uuid.describe("A user of the organization")),
        ResourceField("status", schema: .enumeration(statuses), writable: false, default: "open"),
        ResourceField("lostReason", schema: .string(maxLength: 500), writable: false),
        ResourceField("closedAt", schema: .dateTime, storage: .timestamp, writable: false),
        ResourceField("leadId", schema: Schema.uuid.describe("The lead it was converted from"), writable: false),
    ]

    static func resource(contacts: ContactDirectory, clock: WallClock) -> Resource {
        var resource = Resource(
            singular: "Opportunity", plural: "Opportunities", tag: "CRM", path: "/api/crm/opportunities", table: "crm_opportunities",
            fields: fields, sortable: ["createdAt", "updatedAt", "name", "expectedRevenue", "probability", "expectedClose"],
            searchable: ["name"],
            filters: [
                .equals("status", column: "status", schema: .enumeration(statuses), description: "Only open, won or lost deals"),
                .reference("stageId", column: "stage_id", description: "Only this stage's deals"),
                .reference("ownerId", column: "owner_id", description: "Only this owner's deals"),
                .reference("contactId", column: "contact_id", description: "Only this contact's deals"),
            ],
            example: [
                "name": "Odoo migration for Analytical Engines", "expectedRevenue": 1_200_000, "probability": 30,
                "expectedClose": "2026-12-31",
            ],
            eventPrefix: "opportunity",
            prepare: { values, write in
                try await prepareOpportunity(&values, write, contacts: contacts, clock: clock)
            },
            onChange: { change, sql, organizationID in
                // A deleted deal frees its lead to be converted again.
                guard case .deleted(let opportunity) = change, let id = opportunity["id"]?.stringValue else { return }
                try await sql.raw(
                    """
                    UPDATE crm_leads SET opportunity_id = NULL
                    WHERE organization_id = \(bind: organizationID) AND opportunity_id = \(bind: id)
                    """
                ).run()
            }
        )
        resource.conflictsOnChange = true
        return resource
    }

    private static func prepareOpportunity(
        _ values: inout JSONObject, _ write: ResourceWrite, contacts: ContactDirectory, clock: WallClock
    ) async throws {
        do {
            if let before = write.before {
                try APIError.requireStatus(of: before, in: ["open"], action: "edit", noun: "an opportunity (reopen it first)")
            }
            try await contacts.attach(to: &values, write)
            if let owner = values["ownerId"]?.stringValue {
                try await UserDirectory.requireMember(write.sql, organizationID: write.organizationID, userID: owner, field: "ownerId")
                values["ownerId"] = .string(owner.lowercased())
            }
            let requested = values["stageId"].map { $0.stringValue }
            if write.before == nil || requested != nil {
                try await StageResource.ensureDefaults(write.sql, organizationID: write.organizationID, now: clock.nowMillis())
                let stage: StageResource.Stage?
                if let id = requested ?? nil {
                    stage = try await StageResource.find(write.sql, organizationID: write.organizationID, id: id)
                    if stage == nil { throw APIError.validation(field: "stageId", "No such stage") }
                } else {
                    stage = try await StageResource.find(write.sql, organizationID: write.organizationID, won: false)
                }
                guard let stage else { throw APIError.validation(field: "stageId", "The pipeline has no open stage") }
                if stage.won { throw APIError.validation(field: "stageId", "Use POST /api/crm/opportunities/{id}/won to win a deal") }
                values["stageId"] = .string(stage.id)
                values["stage"] = .string(stage.name)
                if values["probability"] == nil { values["probability"] = .int(Int64(stage.probability)) }
            }
        }
    }
}
