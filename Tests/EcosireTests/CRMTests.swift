import Ecosire
import Foundation
import HTTPTypes
import Testing

@Suite struct CRMTests {
    @Test func leadsConvertAndOpportunitiesAreWonOrLost() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let stages = try await client.get("/api/crm/stages", token: owner.token)
            #expect(stages.status == .ok)
            #expect(stages.json["data"]?.arrayValue?.map { $0["name"] } == ["New", "Qualified", "Proposition", "Won"], "pipeline order")

            let lead = try await client.post(
                "/api/crm/leads", token: owner.token,
                json: ["name": "Ada Lovelace", "email": "Ada@Example.com", "company": "Engines", "source": "event", "score": 40])
            #expect(lead.status == .created, "\(lead.text)")
            #expect(lead.json["email"] == "ada@example.com")
            let leadPath = "/api/crm/leads/\(lead.json["id"]!.stringValue!)"
            let badScore = try await client.patch(leadPath, token: owner.token, json: ["score": 101])
            #expect(badScore.status == .unprocessableContent)

            let converted = try await client.post(leadPath + "/convert", token: owner.token, json: ["expectedRevenue": 1_200_000])
            #expect(converted.status == .created, "\(converted.text)")
            let opportunity = converted.json
            #expect(opportunity["name"] == "Ada Lovelace")
            #expect(opportunity["stage"] == "New")
            #expect(opportunity["probability"] == 10)
            #expect(opportunity["expectedRevenue"] == 1_200_000)
            #expect(opportunity["leadId"] == lead.json["id"])
            #expect(opportunity["contact"]?["email"] == "ada@example.com", "the contact was made from the lead's email")
            let after = try await client.get(leadPath, token: owner.token).json
            #expect(after["status"] == "qualified")
            #expect(after["opportunityId"] == opportunity["id"])
            #expect(after["contactId"] == opportunity["contactId"])
            let twice = try await client.post(leadPath + "/convert", token: owner.token, json: [:])
            #expect(twice.status == .conflict)
            #expect(twice.json["code"] == "INVALID_STATE")

            let path = "/api/crm/opportunities/\(opportunity["id"]!.stringValue!)"
            let proposition = stages.json["data"]![2]!
            let moved = try await client.patch(path, token: owner.token, json: ["stageId": proposition["id"]!])
            #expect(moved.json["stage"] == "Proposition")
            #expect(moved.json["probability"] == 60)
            let wonStage = stages.json["data"]![3]!
            let sneaky = try await client.patch(path, token: owner.token, json: ["stageId": wonStage["id"]!])
            #expect(sneaky.status == .unprocessableContent)

            let won = try await client.post(path + "/won", token: owner.token, json: [:])
            #expect(won.status == .ok, "\(won.text)")
            #expect(won.json["status"] == "won")
            #expect(won.json["stage"] == "Won")
            #expect(won.json["probability"] == 100)
            #expect(won.json["closedAt"]?.stringValue != nil)
            #expect(try await client.post(path + "/lost", token: owner.token, json: [:]).status == .conflict)
            #expect(try await client.patch(path, token: owner.token, json: ["name": "Edited"]).status == .conflict)
            let usedStage = try await client.delete("/api/crm/stages/\(wonStage["id"]!.stringValue!)", token: owner.token)
            #expect(usedStage.status == .conflict)

            let reopened = try await client.post(path + "/reopen", token: owner.token, json: [:])
            #expect(reopened.json["status"] == "open")
            #expect(reopened.json["stage"] == "New")
            let lost = try await client.post(path + "/lost", token: owner.token, json: ["reason": "Budget cut"])
            #expect(lost.json["status"] == "lost")
            #expect(lost.json["lostReason"] == "Budget cut")
            #expect(lost.json["probability"] == 0)

            let open = try await client.get("/api/crm/opportunities?status=lost", token: owner.token)
            #expect(open.json["meta"]?["total"] == 1)

            // Owners are users of the organization; another organization sees nothing.
            let stranger = try await client.register()
            let foreignOwner = try await client.post(
                "/api/crm/opportunities", token: owner.token, json: ["name": "Deal", "ownerId": .string(stranger.userID)])
            #expect(foreignOwner.status == .unprocessableContent)
            #expect(foreignOwner.json["details"]?[0]?["field"] == "ownerId")
            #expect(try await client.get(path, token: stranger.token).status == .notFound)
            #expect(try await client.post(leadPath + "/convert", token: stranger.token, json: [:]).status == .notFound)
            #expect(try await client.get("/api/crm/leads", token: stranger.token).json["meta"]?["total"] == 0)
        }
    }

    @Test func captureCreatesContactAndLeadAndIgnoresBots() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let bot = try await client.post(
                "/api/crm/capture",
                json: ["name": "Bot", "email": "bot@spam.example", "website_url": "http://spam.example"])
            #expect(bot.status == .created)
            #expect(bot.json == ["status": "received"])

            let first = try await client.post(
                "/api/crm/capture",
                json: ["name": "Ada", "email": "ada@example.com", "company": "Engines", "utm": ["campaign": "spring"], "website_url": ""])
            #expect(first.status == .created, "\(first.text)")
            let again = try await client.post(
                "/api/crm/capture", json: ["name": "Ada", "email": "ADA@example.com", "phone": "+44 20 7946 0000", "message": "Call me"])
            #expect(again.text == first.text, "the answer does not tell whether the address was known")

            let leads = try await client.get("/api/crm/leads", token: owner.token).json
            #expect(leads["meta"]?["total"] == 1)
            let lead = leads["data"]![0]!
            #expect(lead["source"] == "website")
            #expect(lead["utm"]?["campaign"] == "spring")
            #expect(lead["message"] == "Call me", "a blank field is filled")
            #expect(lead["company"] == "Engines", "nothing is overwritten")
            let contacts = try await client.get("/api/contacts", token: owner.token).json
            #expect(contacts["meta"]?["total"] == 1, "the bot left nothing behind")
            #expect(contacts["data"]?[0]?["phone"] == "+44 20 7946 0000")
            #expect(lead["contactId"] == contacts["data"]?[0]?["id"])

            for body: JSONValue in [
                ["email": "x@example.com"], ["name": "X", "email": "not-an-email"], ["name": "  ", "email": "x@example.com"],
            ] {
                let refused = try await client.post("/api/crm/capture", json: body)
                #expect(refused.status == .unprocessableContent, "\(body): \(refused.text)")
                #expect(refused.json["details"]?.arrayValue?.isEmpty == false)
            }
            #expect(try await client.get("/api/crm/leads", token: owner.token).json["meta"]?["total"] == 1)
        }
    }
}
