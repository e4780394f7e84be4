import Ecosire
import Foundation
import HTTPTypes
import Testing

extension TestClientSession {
    /// Creates a helpdesk ticket and returns it.
    func createTicket(_ token: String, _ fields: JSONObject) async throws -> JSONValue {
        let response = try await post("/api/helpdesk/tickets", token: token, json: .object(fields))
        #expect(response.status == .created, "create ticket: \(response.text)")
        return response.json
    }

    /// The ids of the tickets a list query returns (one page of up to 100).
    func ticketIDs(_ token: String, _ query: String = "") async throws -> [String] {
        let response = try await get("/api/helpdesk/tickets?limit=100" + (query.isEmpty ? "" : "&" + query), token: token)
        #expect(response.status == .ok, "list tickets: \(response.text)")
        return (response.json["data"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
    }

    /// The organization's outbox, optionally filtered (`kind=ticket_reply`).
    func outbox(_ token: String, _ query: String = "") async throws -> [JSONValue] {
        let response = try await get("/api/email/outbox?limit=100" + (query.isEmpty ? "" : "&" + query), token: token)
        #expect(response.status == .ok, "outbox: \(response.text)")
        return response.json["data"]?.arrayValue ?? []
    }
}

@Suite struct HelpdeskTests {
    @Test func ticketWorkflowFollowsTheDocumentedStatuses() async throws {
        let clock = ManualClock()
        try await TestServer.run(clock: clock.wallClock) { client, _ in
            let owner = try await client.register()
            let contact = try await client.createContact(owner.token, ["name": "Ada", "email": "ada@example.com"])
            let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
            let first = try await client.createTicket(
                owner.token, ["subject": "Cannot activate", "contactId": contact["id"]!, "priority": "high"])
            #expect(first["ticketNumber"]?.stringValue == "HD-\(year)-0001")
            #expect(first["status"] == "new")
            #expect(first["contact"]?["email"] == "ada@example.com")
            let second = try await client.createTicket(owner.token, ["subject": "Second"])
            #expect(second["ticketNumber"]?.stringValue == "HD-\(year)-0002")

            let starting = try await client.post("/api/helpdesk/tickets", token: owner.token, json: ["subject": "x", "status": "closed"])
            #expect(starting.status == .unprocessableContent)
            #expect(starting.json["details"]?[0]?["field"] == "status")

            let path = "/api/helpdesk/tickets/\(first["id"]!.stringValue!)"
            for status in ["in_progress", "pending_customer", "resolved"] {
                let moved = try await client.patch(path, token: owner.token, json: ["status": .string(status)])
                #expect(moved.status == .ok, "\(status): \(moved.text)")
                #expect(moved.json["status"]?.stringValue == status)
            }
            #expect(try await client.get(path, token: owner.token).json["resolvedAt"]?.stringValue != nil)
            let backwards = try await client.patch(path, token: owner.token, json: ["status": "pending_customer"])
            #expect(backwards.status == .conflict)
            #expect(backwards.json["code"] == "INVALID_STATE")

            let closed = try await client.post(path + "/close", token: owner.token, json: [:])
            #expect(closed.status == .ok)
            #expect(closed.json["status"] == "closed")
            #expect(closed.json["closedAt"]?.stringValue != nil)
            let closedAgain = try await client.post(path + "/close", token: owner.token, json: [:])
            #expect(closedAgain.status == .conflict)
            #expect(closedAgain.json["code"] == "INVALID_STATE")
            #expect((closedAgain.json["message"]?.stringValue ?? "").contains("closed"))
            let editClosed = try await client.patch(path, token: owner.token, json: ["subject": "Changed"])
            #expect(editClosed.status == .conflict)
            let replyClosed = try await client.post(path + "/reply", token: owner.token, json: ["body": "Hello"])
            #expect(replyClosed.status == .conflict)

            let reopened = try await client.post(path + "/reopen", token: owner.token, json: [:])
            #expect(reopened.status == .ok)
            #expect(reopened.json["status"] == "in_progress")
            #expect(reopened.json["closedAt"] == .null)
            #expect(reopened.json["resolvedAt"] == .null)
            let reopenOpen = try await client.post(path + "/reopen", token: owner.token, json: [:])
            #expect(reopenOpen.status == .conflict)

            #expect(try await client.ticketIDs(owner.token, "status=in_progress") == [first["id"]!.stringValue!])
            #expect(try await client.ticketIDs(owner.token, "search=second") == [second["id"]!.stringValue!])

            // Another organization sees none of it.
            let stranger = try await client.register()
            #expect(try await client.get(path, token: stranger.token).status == .notFound)
            #expect(try await client.post(path + "/reply", token: stranger.token, json: ["body": "x"]).status == .notFound)
            #expect(try await client.post(path + "/close", token: stranger.token, json: [:]).status == .notFound)
            #expect(try await client.get(path + "/messages", token: stranger.token).status == .notFound)
            #expect(try await client.ticketIDs(stranger.token).isEmpty)
        }
    }

    @Test func repliesEmailTheCustomerButNotesDoNot() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register(name: "Grace Agent")
            let contact = try await client.createContact(owner.token, ["name": "Ada", "email": "ada@example.com"])
            let ticket = try await client.createTicket(owner.token, ["subject": "Invoice question", "contactId": contact["id"]!])
            let path = "/api/helpdesk/tickets/\(ticket["id"]!.stringValue!)"

            let note = try await client.post(path + "/reply", token: owner.token, json: ["body": "Check the VAT first", "internal": true])
            #expect(note.status == .created, "\(note.text)")
            #expect(note.json["message"]?["internal"] == true)
            #expect(note.json["message"]?["emailId"] == .null)
            #expect(note.json["ticket"]?["status"] == "new")
            #expect(note.json["ticket"]?["firstRespondedAt"] == .null)
            #expect(try await client.outbox(owner.token, "kind=ticket_reply").isEmpty)

            let reply = try await client.post(path + "/reply", token: owner.token, json: ["body": "The VAT is 20 %."])
            #expect(reply.status == .created)
            #expect(reply.json["message"]?["authorName"] == "Grace Agent")
            #expect(reply.json["ticket"]?["status"] == "in_progress")
            #expect(reply.json["ticket"]?["firstRespondedAt"]?.stringValue != nil)
            let emails = try await client.outbox(owner.token, "kind=ticket_reply")
            #expect(emails.count == 1)
            #expect(emails.first?["to"] == "ada@example.com")
            #expect(emails.first?["status"] == "queued")
            #expect(emails.first?["id"] == reply.json["message"]?["emailId"])
            #expect((emails.first?["subject"]?.stringValue ?? "").contains(ticket["ticketNumber"]!.stringValue!))
            #expect((emails.first?["body"]?.stringValue ?? "").contains("The VAT is 20 %."))

            let waiting = try await client.post(
                path + "/reply", token: owner.token, json: ["body": "Anything else?", "status": "pending_customer"])
            #expect(waiting.json["ticket"]?["status"] == "pending_customer")

            let messages = try await client.get(path + "/messages", token: owner.token)
            #expect(messages.json["meta"]?["total"] == 3)
            #expect(messages.json["data"]?.arrayValue?.map { $0["body"] } == ["Check the VAT first", "The VAT is 20 %.", "Anything else?"])

            // The reply is on the contact's timeline.
            let activity = try await client.get("/api/contacts/\(contact["id"]!.stringValue!)/activity", token: owner.token)
            let kinds = activity.json["data"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
            #expect(kinds.contains("ticket") && kinds.contains("email"))

            // Nobody to email: a public reply is refused, a note is fine.
            let anonymous = try await client.createTicket(owner.token, ["subject": "Walk-in"])
            let refused = try await client.post(
                "/api/helpdesk/tickets/\(anonymous["id"]!.stringValue!)/reply", token: owner.token, json: ["body": "Hi"])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.json["details"]?[0]?["field"] == "internal")

            // Assignment: only users and teams of the organization.
            let stranger = try await client.register()
            let foreign = try await client.post(path + "/assign", token: owner.token, json: ["assigneeId": .string(stranger.userID)])
            #expect(foreign.status == .unprocessableContent)
            #expect(foreign.json["details"]?[0]?["field"] == "assigneeId")
            let team = try await client.post(
                "/api/helpdesk/teams", token: owner.token, json: ["name": "Billing", "memberIds": [.string(owner.userID)]])
            #expect(team.status == .created, "\(team.text)")
            let assigned = try await client.post(
                path + "/assign", token: owner.token, json: ["assigneeId": .string(owner.userID), "teamId": team.json["id"]!])
            #expect(assigned.status == .ok, "\(assigned.text)")
            #expect(assigned.json["assigneeId"]?.stringValue == owner.userID)
            #expect(try await client.ticketIDs(owner.token, "assigneeId=\(owner.userID)") == [ticket["id"]!.stringValue!])
            let busyTeam = try await client.delete("/api/helpdesk/teams/\(team.json["id"]!.stringValue!)", token: owner.token)
            #expect(busyTeam.status == .conflict)
        }
    }

    @Test("tickets carry assignee {id, name} and team {id, name} beside the ids; renames reach them; from/to filter the list")
    func ticketsEmbedAssigneeAndTeam() async throws {
        let clock = ManualClock()
        try await TestServer.run(clock: clock.wallClock) { client, config in
            let owner = try await client.register(name: "Olive Owner")
            let me = try await client.get("/api/users/me", token: owner.token).json
            let organizationID = try #require(me["organization"]?["id"]?.stringValue)
            let agent = try await TestMembers.add(client, config: config, organizationID: organizationID, role: "member")
            let agentID = try #require(try await client.get("/api/users/me", token: agent).json["id"]?.stringValue)
            let team = try await client.post("/api/helpdesk/teams", token: owner.token, json: ["name": "Licensing"]).json
            let teamID = try #require(team["id"]?.stringValue)

            let unassigned = try await client.createTicket(owner.token, ["subject": "Nobody yet"])
            #expect(unassigned["assignee"] == .null && unassigned["team"] == .null)
            clock.advance(by: 3600)
            let ticket = try await client.createTicket(
                owner.token, ["subject": "Cannot activate", "assigneeId": .string(agentID.uppercased()), "teamId": .string(teamID)])
            #expect(ticket["assigneeId"]?.stringValue == agentID)
            #expect(ticket["assignee"]?["id"]?.stringValue == agentID)
            #expect(ticket["assignee"]?["name"]?.stringValue?.isEmpty == false)
            #expect(ticket["team"] == ["id": .string(teamID), "name": "Licensing"])
            let path = "/api/helpdesk/tickets/\(ticket["id"]?.stringValue ?? "")"

            // Reassigning replaces the reference; null clears the id and the reference together.
            let reassigned = try await client.post(path + "/assign", token: owner.token, json: ["assigneeId": .string(owner.userID)])
            #expect(reassigned.json["assignee"] == ["id": .string(owner.userID), "name": "Olive Owner"], "\(reassigned.text)")
            #expect(reassigned.json["team"]?["name"] == "Licensing")
            let cleared = try await client.post(path + "/assign", token: owner.token, json: ["teamId": nil])
            #expect(cleared.json["teamId"] == .null && cleared.json["team"] == .null, "\(cleared.text)")
            #expect(cleared.json["assignee"]?["id"]?.stringValue == owner.userID)
            let assignedTeam = try await client.patch(path, token: owner.token, json: ["teamId": .string(teamID)])
            #expect(assignedTeam.json["team"]?["name"] == "Licensing")
            let unknown = try await client.post(
                path + "/assign", token: owner.token, json: ["assigneeId": "018e1234-abcd-7000-8000-000000000001"])
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.json["details"]?[0]?["field"] == "assigneeId")

            // Renaming the team or the user rewrites the references the tickets carry.
            #expect(try await client.patch("/api/helpdesk/teams/\(teamID)", token: owner.token, json: ["name": "Keys"]).status == .ok)
            #expect(try await client.patch("/api/users/me", token: owner.token, json: ["name": "Olive Renamed"]).status == .ok)
            let current = try await client.get(path, token: owner.token).json
            #expect(current["team"] == ["id": .string(teamID), "name": "Keys"])
            #expect(current["assignee"] == ["id": .string(owner.userID), "name": "Olive Renamed"])
            let listed = try await client.get("/api/helpdesk/tickets?limit=100", token: owner.token).json["data"]?.arrayValue ?? []
            #expect(listed.first { $0["id"] == ticket["id"] } == current)

            // from/to (ISO 8601) bound the creation time; a bad value is a 400 naming the parameter.
            let between = Timestamp.iso(millis: Timestamp.millis(parsing: ticket["createdAt"]!.stringValue!)! - 60_000)
            #expect(try await client.ticketIDs(owner.token, "from=\(between)") == [ticket["id"]!.stringValue!])
            #expect(try await client.ticketIDs(owner.token, "to=\(between)") == [unassigned["id"]!.stringValue!])
            #expect(try await client.ticketIDs(owner.token, "from=\(between)&to=\(between)").isEmpty)
            let badFrom = try await client.get("/api/helpdesk/tickets?from=yesterday", token: owner.token)
            #expect(badFrom.status == .badRequest)
            #expect(badFrom.json["details"]?[0]?["field"] == "from", "\(badFrom.text)")
        }
    }

    @Test("SLA policies are listed at the documented GET /api/helpdesk/sla and still at /api/helpdesk/sla-policies")
    func slaPoliciesAtTheDocumentedPath() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let created = try await client.post(
                "/api/helpdesk/sla-policies", token: owner.token,
                json: ["name": "Urgent", "priority": "urgent", "firstResponseMinutes": 60, "resolutionMinutes": 240])
            #expect(created.status == .created)
            let documented = try await client.get("/api/helpdesk/sla", token: owner.token)
            #expect(documented.status == .ok)
            #expect(documented.json["data"]?.arrayValue?.map { $0["id"] } == [created.json["id"]])
            #expect(documented.json["meta"]?["total"] == 1)
            #expect(try await client.get("/api/helpdesk/sla-policies", token: owner.token).json == documented.json)
            #expect(try await client.get("/api/helpdesk/sla?priority=low", token: owner.token).json["meta"]?["total"] == 0)
            #expect(try await client.get("/api/helpdesk/sla?bogus=1", token: owner.token).status == .badRequest)
            #expect(try await client.get("/api/helpdesk/sla").status == .unauthorized)
        }
    }

    @Test func slaTargetsAndTheOverdueFilterFollowTheClock() async throws {
        let clock = ManualClock()
        try await TestServer.run(clock: clock.wallClock) { client, _ in
            let owner = try await client.register()
            let contact = try await client.createContact(owner.token, ["name": "Ada", "email": "ada@example.com"])
            let policy = try await client.post(
                "/api/helpdesk/sla-policies", token: owner.token,
                json: ["name": "Urgent", "priority": "urgent", "firstResponseMinutes": 60, "resolutionMinutes": 240])
            #expect(policy.status == .created, "\(policy.text)")
            let duplicate = try await client.post(
                "/api/helpdesk/sla-policies", token: owner.token,
                json: ["name": "Again", "priority": "urgent", "firstResponseMinutes": 30, "resolutionMinutes": 120])
            #expect(duplicate.status == .conflict)
            let inverted = try await client.post(
                "/api/helpdesk/sla-policies", token: owner.token,
                json: ["name": "Odd", "priority": "low", "firstResponseMinutes": 300, "resolutionMinutes": 100])
            #expect(inverted.status == .unprocessableContent)
            #expect(inverted.json["details"]?[0]?["field"] == "resolutionMinutes")

            let urgent = try await client.createTicket(
                owner.token, ["subject": "Site down", "priority": "urgent", "contactId": contact["id"]!])
            let calm = try await client.createTicket(owner.token, ["subject": "Typo", "priority": "low"])
            let created = Timestamp.millis(parsing: urgent["createdAt"]!.stringValue!)!
            #expect(urgent["slaPolicyId"] == policy.json["id"])
            #expect(Timestamp.millis(parsing: urgent["firstResponseDueAt"]!.stringValue!) == created + 3_600_000)
            #expect(Timestamp.millis(parsing: urgent["slaDueAt"]!.stringValue!) == created + 14_400_000)
            #expect(calm["slaDueAt"] == .null)

            let id = urgent["id"]!.stringValue!
            #expect(try await client.ticketIDs(owner.token, "overdueSla=true").isEmpty)
            clock.advance(by: 61 * 60)
            #expect(try await client.ticketIDs(owner.token, "overdueSla=true") == [id], "first response is late")
            #expect(try await client.ticketIDs(owner.token, "overdueSla=false") == [calm["id"]!.stringValue!])
            var stats = try await client.get("/api/helpdesk/stats", token: owner.token).json
            #expect(stats["overdueSla"] == 1)
            #expect(stats["open"] == 2)

            _ = try await client.post("/api/helpdesk/tickets/\(id)/reply", token: owner.token, json: ["body": "On it"])
            #expect(try await client.ticketIDs(owner.token, "overdueSla=true").isEmpty, "answered in time for resolution")
            clock.advance(by: 180 * 60)
            #expect(try await client.ticketIDs(owner.token, "overdueSla=true") == [id], "resolution is late")

            // Raising the other ticket's priority gives it the policy's targets, from its creation.
            let raised = try await client.patch(
                "/api/helpdesk/tickets/\(calm["id"]!.stringValue!)", token: owner.token, json: ["priority": "urgent"])
            #expect(raised.json["slaPolicyId"] == policy.json["id"])
            #expect(Set(try await client.ticketIDs(owner.token, "overdueSla=true")) == [id, calm["id"]!.stringValue!])

            let resolved = try await client.patch("/api/helpdesk/tickets/\(id)", token: owner.token, json: ["status": "resolved"])
            #expect(resolved.json["status"] == "resolved")
            #expect(try await client.ticketIDs(owner.token, "overdueSla=true") == [calm["id"]!.stringValue!])

            stats = try await client.get("/api/helpdesk/stats", token: owner.token).json
            #expect(stats["total"] == 2)
            #expect(stats["byStatus"]?["resolved"] == 1)
            #expect(stats["byPriority"]?["urgent"] == 2)
            #expect(stats["averageFirstResponseMinutes"] == 61)
            #expect(stats["averageResolutionMinutes"] == 241)
            #expect(stats["slaCompliance"] == 0)
            #expect(stats["unassigned"] == 1)
        }
    }
}
