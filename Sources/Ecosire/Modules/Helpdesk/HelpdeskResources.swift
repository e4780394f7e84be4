import HTTPTypes
import SQLKit

/// Helpdesk teams: who works which tickets.
enum TeamResource {
    /// Checks a write's `teamId` (when it has one) names a team of the organization, and stores it
    /// lowercase; a 422 naming `teamId` otherwise.
    /// Tickets also get the team's `{id, name}` as `team` (null when `teamId` is cleared).
    static func checkTeam(in values: inout JSONObject, _ write: ResourceWrite, embed: Bool = false) async throws {
        if embed, values["teamId"]?.isNull == true { values["team"] = .null }
        guard let team = values["teamId"]?.stringValue?.lowercased() else { return }
        let found = try await write.sql.raw(
            "SELECT id, name FROM helpdesk_teams WHERE id = \(bind: team) AND organization_id = \(bind: write.organizationID)"
        ).first()
        guard let found else { throw APIError.validation(field: "teamId", "No such team") }
        values["teamId"] = .string(team)
        if embed { values["team"] = ["id": .string(team), "name": .string(try found.decode(column: "name", as: String.self))] }
    }

    static let resource: Resource = {
        var resource = Resource(
            singular: "Team", plural: "Teams", tag: "Helpdesk", path: "/api/helpdesk/teams", table: "helpdesk_teams",
            fields: [
                ResourceField("name", schema: .string(minLength: 1, maxLength: 100), required: true, unique: true),
                ResourceField("description", schema: .string(maxLength: 2000)),
                ResourceField(
                    "email", schema: Schema.email.describe("Where the team receives mail"),
                    normalize: { .string($0.stringValue?.lowercased() ?? "") }),
                ResourceField(
                    "memberIds", schema: Schema.array(.uuid, maxItems: 200).describe("Users of the organization"), storage: .json,
                    default: []),
            ],
            sortable: ["name", "createdAt", "updatedAt"], searchable: ["name"],
            example: ["name": "Licensing", "description": "Activation and renewal questions", "memberIds": []], eventPrefix: nil,
            prepare: { values, write in
                guard let members = values["memberIds"]?.arrayValue else { return }
                var unique: [JSONValue] = []
                for (index, member) in members.enumerated() {
                    let id = member.stringValue?.lowercased() ?? ""
                    try await UserDirectory.requireMember(
                        write.sql, organizationID: write.organizationID, userID: id, field: "memberIds[\(index)]")
                    if !unique.contains(.string(id)) { unique.append(.string(id)) }
                }
                values["memberIds"] = .array(unique)
            },
            onChange: { change, sql, organizationID in
                if case .updated(let before, let after) = change, before["name"] != after["name"],
                    let id = after["id"]?.stringValue, let name = after["name"]?.stringValue
                {
                    // Tickets embed the team's name: the rename reaches them in the same transaction.
                    let snapshot = (["id": .string(id), "name": .string(name)] as JSONValue).jsonString
                    try await sql.raw(
                        """
                        UPDATE helpdesk_tickets SET team = \(bind: snapshot)
                        WHERE organization_id = \(bind: organizationID) AND team_id = \(bind: id)
                        """
                    ).run()
                }
                guard case .deleted(let team) = change else { return }
                let tickets =
                    try await sql.raw(
                        """
                        SELECT COUNT(*) AS n FROM helpdesk_tickets
                        WHERE organization_id = \(bind: organizationID) AND team_id = \(bind: team["id"]?.stringValue ?? "")
                        """
                    ).first()?.decode(column: "n", as: Int.self) ?? 0
                if tickets > 0 { throw APIError.conflict("The team has \(tickets) ticket(s); move them to another team first") }
                // The team's own policies go with it (turning them into every-team policies could
                // duplicate one for the same priority).
                try await sql.raw(
                    """
                    DELETE FROM helpdesk_sla_policies
                    WHERE organization_id = \(bind: organizationID) AND team_id = \(bind: team["id"]?.stringValue ?? "")
                    """
                ).run()
            }
        )
        resource.conflictsOnChange = true
        return resource
    }()
}

/// SLA policies: first-response and resolution targets by priority, optionally for one team.
enum SLAPolicyResource {
    struct Policy: Sendable {
        var id: String
        var firstResponseMinutes: Int
        var resolutionMinutes: Int
    }

    static let resource: Resource = {
        var resource = Resource(
            singular: "SLAPolicy", plural: "SLAPolicies", tag: "Helpdesk", path: "/api/helpdesk/sla-policies",
            table: "helpdesk_sla_policies",
            fields: [
                ResourceField("name", schema: .string(minLength: 1, maxLength: 100), required: true),
                ResourceField("priority", schema: .enumeration(TicketResource.priorities), required: true),
                ResourceField("teamId", schema: Schema.uuid.describe("Only this team's tickets; null for every team")),
                ResourceField(
                    "firstResponseMinutes", schema: .integer(minimum: 1, maximum: 525_600), storage: .integer, required: true),
                ResourceField("resolutionMinutes", schema: .integer(minimum: 1, maximum: 525_600), storage: .integer, required: true),
                ResourceField("active", schema: .boolean, storage: .boolean, default: true),
            ],
            sortable: ["name", "priority", "createdAt", "updatedAt"], searchable: ["name"],
            filters: [
                .equals("priority", column: "priority", schema: .enumeration(TicketResource.priorities), description: "Only this priority")
            ],
            example: ["name": "Urgent", "priority": "urgent", "firstResponseMinutes": 60, "resolutionMinutes": 480],
            prepare: { values, write in
                let first = values["firstResponseMinutes"]?.intValue ?? write.before?["firstResponseMinutes"]?.intValue ?? 0
                let resolution = values["resolutionMinutes"]?.intValue ?? write.before?["resolutionMinutes"]?.intValue ?? 0
                if resolution < first {
                    throw APIError.validation(field: "resolutionMinutes", "Must be at least firstResponseMinutes (\(first))")
                }
                try await TeamResource.checkTeam(in: &values, write)
                // One policy per priority and team.
                let priority = values["priority"]?.stringValue ?? write.before?["priority"]?.stringValue ?? ""
                let team = values["teamId"].map { $0.stringValue } ?? write.before?["teamId"]?.stringValue
                let teamCondition: SQLQueryString = team.map { "team_id = \(bind: $0)" } ?? "team_id IS NULL"
                let clash = try await write.sql.raw(
                    """
                    SELECT id FROM helpdesk_sla_policies WHERE organization_id = \(bind: write.organizationID)
                      AND priority = \(bind: priority) AND \(teamCondition) AND id <> \(bind: write.before?["id"]?.stringValue ?? "")
                    """
                ).first()
                if clash != nil {
                    throw APIError.conflict(
                        "A policy for this priority and team already exists",
                        details: [FieldIssue(field: "priority", message: "Already covered")])
                }
            }
        )
        resource.conflictsOnChange = true
        return resource
    }()

    /// The active policy for a ticket: the team's own for the priority, else the one for every team.
    static func matching(_ sql: any SQLDatabase, organizationID: String, priority: String, teamID: String?) async throws -> Policy? {
        let rows = try await sql.raw(
            """
            SELECT id, team_id, first_response_minutes, resolution_minutes FROM helpdesk_sla_policies
            WHERE organization_id = \(bind: organizationID) AND priority = \(bind: priority) AND active = \(bind: true)
              AND (team_id IS NULL OR team_id = \(bind: teamID ?? ""))
            ORDER BY created_at, id
            """
        ).all()
        let ranked = try rows.map { row in
            (
                team: try row.decode(column: "team_id", as: String?.self),
                policy: Policy(
                    id: try row.decode(column: "id", as: String.self),
                    firstResponseMinutes: try row.decode(column: "first_response_minutes", as: Int.self),
                    resolutionMinutes: try row.decode(column: "resolution_minutes", as: Int.self))
            )
        }
        return (ranked.first { $0.team != nil } ?? ranked.first)?.policy
    }
}
