import Foundation
import HTTPTypes
import SQLKit

/// CRM: pipeline stages, leads (convert to an opportunity), opportunities (won, lost, reopen),
/// and the public lead-capture form.
struct CRMModule: Module {
    let platform: Platform
    let contacts: ContactDirectory
    let stages: ResourceStore
    let leads: ResourceStore
    let opportunities: ResourceStore

    init(platform: Platform, contacts: ContactDirectory) {
        self.platform = platform
        self.contacts = contacts
        let database = platform.database
        let clock = platform.clock
        var stages = StageResource.resource(clock: clock)
        stages.beforeRead = { organizationID in
            try await database.transaction { sql in
                try await StageResource.ensureDefaults(sql, organizationID: organizationID, now: clock.nowMillis())
            }
        }
        self.stages = ResourceStore(resource: stages, database: database, clock: clock)
        self.leads = ResourceStore(resource: LeadResource.resource(contacts: contacts), database: database, clock: clock)
        self.opportunities = ResourceStore(
            resource: OpportunityResource.resource(contacts: contacts, clock: clock), database: database, clock: clock)
    }

    var eventTypes: [EventType] { leads.resource.eventTypes + opportunities.resource.eventTypes }

    func register(on api: APIRouter) {
        ResourceRoutes(resource: stages.resource, store: stages).register(on: api, writeRole: .admin)
        ResourceRoutes(resource: leads.resource, store: leads).register(on: api)
        ResourceRoutes(resource: opportunities.resource, store: opportunities).register(on: api)
        registerConvert(on: api)
        registerOutcomes(on: api)
        registerCapture(on: api)
    }

    // MARK: Lead → opportunity

    private func registerConvert(on api: APIRouter) {
        api.add(
            Operation(
                .post, "/api/crm/leads/{id}/convert", id: "convertLead", tag: "CRM", summary: "Convert a lead to an opportunity",
                description:
                    "Creates an opportunity from a new or qualified lead (and the contact from the lead's email when it has none), marks the lead qualified and links the two. Once per lead.",
                access: .authenticated(minimumRole: .member),
                body: .json(
                    Schema.object([
                        .init("name", .string(minLength: 1, maxLength: 200)),
                        .init("expectedRevenue", .integer(minimum: 0, maximum: 1_000_000_000_000_000)),
                        .init("stageId", .uuid), .init("ownerId", .uuid), .init("expectedClose", .string(format: "date")),
                    ]).named("ConvertLeadRequest"), required: false, example: ["expectedRevenue": 1_200_000]),
                responses: [
                    ResponseSpec(
                        201, "The opportunity", schema: opportunities.resource.recordSchema,
                        headers: ["Location": "URL of the opportunity"])
                ],
                errors: [409]
            )
        ) { input in
            let caller = try input.caller
            let id = input.path("id")
            let body = input.object
            let leads = self.leads
            let opportunities = self.opportunities
            let contacts = self.contacts
            let opportunity = try await leads.act(
                organizationID: caller.organizationID, id: id, action: "convert", allowed: ["new", "qualified"]
            ) { sql, lead in
                if let existing = lead["opportunityId"]?.stringValue {
                    var error = APIError.invalidState(current: lead["status"]?.stringValue ?? "", action: "convert", noun: "a lead")
                    error.message = "The lead was already converted (opportunity \(existing))"
                    throw error
                }
                var contactID = lead["contactId"]?.stringValue
                if contactID == nil, let email = lead["email"]?.stringValue {
                    contactID =
                        try await contacts.findOrCreate(
                            sql, organizationID: caller.organizationID, email: email, name: lead["name"]?.stringValue,
                            phone: lead["phone"]?.stringValue, source: "a converted lead"
                        ).contact["id"]?.stringValue
                }
                var fields: JSONObject = ["name": body["name"] ?? lead["name"] ?? "Opportunity"]
                for key in ["expectedRevenue", "stageId", "ownerId", "expectedClose"] {
                    if let value = body[key] { fields[key] = value }
                }
                if let contactID { fields["contactId"] = .string(contactID) }
                let opportunity = try await opportunities.create(
                    sql, organizationID: caller.organizationID, body: fields, preset: ["leadId": .string(id)])
                _ = try await leads.set(
                    sql, organizationID: caller.organizationID, id: id,
                    values: [
                        "status": "qualified", "opportunityId": opportunity["id"] ?? .null,
                        "contactId": contactID.map { .string($0) } ?? .null,
                    ])
                return opportunity
            }
            return .created(opportunity, location: "/api/crm/opportunities/\(opportunity["id"]?.stringValue ?? "")")
        }
    }

    // MARK: Won, lost, reopen

    private func registerOutcomes(on api: APIRouter) {
        let record = opportunities.resource.recordSchema
        let outcomes: [(action: String, allowed: [String], summary: String, body: Schema?)] = [
            ("won", ["open"], "Mark an opportunity won", nil),
            (
                "lost", ["open"], "Mark an opportunity lost",
                Schema.object([.init("reason", .string(minLength: 1, maxLength: 500))]).named("LoseOpportunityRequest")
            ),
            ("reopen", ["won", "lost"], "Reopen a won or lost opportunity", nil),
        ]
        for outcome in outcomes {
            let description =
                switch outcome.action {
                case "won": "open → won: moves the deal to the first won stage with probability 100."
                case "lost": "open → lost with an optional reason; probability 0."
                default: "won or lost → open, back in the first open stage with its probability."
                }
            api.add(
                Operation(
                    .post, "/api/crm/opportunities/{id}/\(outcome.action)", id: "\(outcome.action)Opportunity", tag: "CRM",
                    summary: outcome.summary, description: description, access: .authenticated(minimumRole: .member),
                    body: outcome.body.map { .json($0, required: false, example: ["reason": "Chose a competitor"]) },
                    responses: [ResponseSpec(200, "The opportunity", schema: record)], errors: [409]
                )
            ) { input in
                let caller = try input.caller
                let id = input.path("id")
                let reason = input.body?["reason"]?.stringValue
                let opportunities = self.opportunities
                let now = platform.clock.nowMillis()
                let result = try await opportunities.act(
                    organizationID: caller.organizationID, id: id, action: outcome.action, allowed: outcome.allowed
                ) { sql, opportunity in
                    var values: JSONObject
                    switch outcome.action {
                    case "won":
                        try await StageResource.ensureDefaults(sql, organizationID: caller.organizationID, now: now)
                        values = ["status": "won", "probability": 100, "closedAt": .string(Timestamp.iso(millis: now))]
                        if let stage = try await StageResource.find(sql, organizationID: caller.organizationID, won: true) {
                            values["stageId"] = .string(stage.id)
                            values["stage"] = .string(stage.name)
                        }
                    case "lost":
                        values = [
                            "status": "lost", "probability": 0, "closedAt": .string(Timestamp.iso(millis: now)),
                            "lostReason": reason.map { .string($0) } ?? .null,
                        ]
                    default:
                        values = ["status": "open", "closedAt": .null, "lostReason": .null]
                        let current = try await StageResource.find(
                            sql, organizationID: caller.organizationID, id: opportunity["stageId"]?.stringValue ?? "")
                        if current?.won ?? true,
                            let stage = try await StageResource.find(sql, organizationID: caller.organizationID, won: false)
                        {
                            values["stageId"] = .string(stage.id)
                            values["stage"] = .string(stage.name)
                            values["probability"] = .int(Int64(stage.probability))
                        } else {
                            values["probability"] = .int(Int64(current?.probability ?? 10))
                        }
                    }
                    return try await opportunities.set(sql, organizationID: caller.organizationID, id: id, values: values) ?? opportunity
                }
                return .json(result)
            }
        }
    }

    // MARK: Public capture

    /// The same answer for a new lead, a known address and a bot.
    static let received: JSONValue = ["status": "received"]

    static let captureRequest = Schema.object([
        .init("name", .string(minLength: 1, maxLength: 200), required: true),
        .init("email", .email, required: true),
        .init("company", .string(maxLength: 200)),
        .init("phone", .string(minLength: 1, maxLength: 50)),
        .init("message", .string(maxLength: 10_000)),
        .init("source", Schema.string(minLength: 1, maxLength: 100).describe("Default: website")),
        .init("utm", LeadResource.utm),
        .init(
            "website_url",
            Schema.string(maxLength: 2048).describe("Honeypot: leave empty. Forms hide it from people; bots that fill it are ignored.")),
    ]).named("LeadCaptureRequest")

    private func registerCapture(on api: APIRouter) {
        api.add(
            Operation(
                .post, "/api/crm/capture", id: "captureLead", tag: "Public intake", summary: "Capture a lead from a web form",
                description:
                    "Creates the contact when the email is new (filling a missing phone otherwise) and a lead in the site organization. A repeat from the same address adds to its open lead instead of adding one: blank fields are filled, nothing is overwritten, and the message goes on the contact's timeline. A filled `website_url` honeypot gets the same 201 and stores nothing. The answer never tells whether the address was known. No authentication; limited per client address.",
                access: .open,
                body: .json(
                    Self.captureRequest,
                    example: [
                        "name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines",
                        "message": "We want the Odoo connector.", "source": "website", "utm": ["campaign": "spring"],
                    ]),
                responses: [
                    ResponseSpec(
                        201, "Received",
                        schema: Schema.object([.init("status", .enumeration(["received"]), required: true)]).named("LeadCaptureReceipt"),
                        headers: ["Location": "URL of the lead that holds the submission (readable by the organization's members)"])
                ],
                errors: [503], rateLimit: .crmCapture
            )
        ) { input in
            let body = input.object
            if let trap = body["website_url"]?.stringValue, !trap.isEmpty {
                // Looks like success to the bot (a fresh id, of no record); nothing is stored.
                return .created(Self.received, location: "/api/crm/leads/\(UUIDv7.generate())")
            }
            let name = body["name"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if name.isEmpty { throw APIError.validation(field: "name", "Must not be blank") }
            let email = body["email"]?.stringValue?.lowercased() ?? ""
            let phone = body["phone"]?.stringValue
            let leads = self.leads
            let contacts = self.contacts
            let leadID = try await platform.database.transaction { sql -> String in
                let organizationID = try await platform.siteOrganizationID(sql)
                let (contact, created) = try await contacts.findOrCreate(
                    sql, organizationID: organizationID, email: email, name: name, phone: phone, source: "a lead form")
                let contactID = contact["id"]?.stringValue ?? ""
                if !created, let phone {
                    try await sql.raw(
                        """
                        UPDATE contacts SET phone = \(bind: phone), updated_at = \(bind: platform.clock.nowMillis())
                        WHERE id = \(bind: contactID) AND phone IS NULL
                        """
                    ).run()
                }
                var fields: JSONObject = [
                    "name": .string(name), "email": .string(email), "contactId": .string(contactID),
                    "source": body["source"] ?? "website",
                ]
                for key in ["company", "phone", "message", "utm"] {
                    if let value = body[key] { fields[key] = value }
                }
                let open = try await sql.raw(
                    """
                    SELECT id FROM crm_leads WHERE organization_id = \(bind: organizationID) AND email = \(bind: email)
                      AND status IN ('new', 'qualified') AND opportunity_id IS NULL
                    ORDER BY created_at DESC, id DESC LIMIT 1
                    """
                ).first()
                if let open {
                    // A public form fills gaps; it never overwrites what the team or an earlier form stored.
                    let id = try open.decode(column: "id", as: String.self)
                    let current = try await leads.fetch(sql, organizationID: organizationID, id: id) ?? .null
                    let gaps = JSONObject(fields.members.filter { current[$0.key]?.isNull ?? true }.map { ($0.key, $0.value) })
                    _ = try await leads.update(sql, organizationID: organizationID, id: id, body: gaps)
                    if let message = body["message"]?.stringValue, !message.isEmpty, current["message"]?.stringValue != message {
                        try await contacts.recordActivity(
                            sql, organizationID: organizationID, contactID: contactID, kind: "note",
                            summary: "Lead form message: " + String(message.prefix(500)), data: ["leadId": .string(id)])
                    }
                    return id
                }
                let lead = try await leads.create(sql, organizationID: organizationID, body: fields)
                try await contacts.recordActivity(
                    sql, organizationID: organizationID, contactID: contactID, kind: "note",
                    summary: "Lead captured from \(fields["source"]?.stringValue ?? "website")", data: ["leadId": lead["id"] ?? .null])
                return lead["id"]?.stringValue ?? ""
            }
            return .created(Self.received, location: "/api/crm/leads/\(leadID)")
        }
    }
}
