import Configuration
import Crypto
import Ecosire
import Foundation
import HTTPTypes
import Logging
import SQLKit
import Testing

@Suite struct IntakeTests {
    static let request: JSONObject = [
        "name": "Ada Lovelace", "email": "Ada@Example.com", "subject": "Cannot activate",
        "message": "The activation answers LICENSE_EXPIRED.\nI renewed yesterday.", "product": "Odoo Connector",
    ]

    @Test func supportRequestOpensATicketForANewContactAndAcknowledgesIt() async throws {
        // A frozen clock keeps both requests in one rate-limit window, so Remaining is exact.
        let frozen = Date()
        try await TestServer.run(clock: WallClock { frozen }) { client, _ in
            let closed = try await client.post("/api/support", json: .object(Self.request))
            #expect(closed.status == .serviceUnavailable, "no organization yet")
            #expect(closed.json["code"] == "NOT_CONFIGURED")

            let owner = try await client.register()
            _ = try await client.register()  // a later organization does not receive intake
            let answer = try await client.post("/api/support", json: .object(Self.request))
            #expect(answer.status == .created, "\(answer.text)")
            #expect(answer.header("X-RateLimit-Limit") == "5")
            #expect(answer.header("X-RateLimit-Remaining") == "3")
            let number = answer.json["ticketNumber"]?.stringValue ?? ""
            #expect(number.range(of: #"^HD-\d{4}-0001$"#, options: .regularExpression) != nil, "\(number)")

            let ticket = try await client.get("/api/helpdesk/tickets/\(answer.json["id"]!.stringValue!)", token: owner.token).json
            #expect(ticket["ticketNumber"]?.stringValue == number)
            #expect(ticket["channel"] == "web")
            #expect(ticket["product"] == "Odoo Connector")
            #expect(ticket["description"] == "The activation answers LICENSE_EXPIRED.\nI renewed yesterday.")
            #expect(ticket["contact"]?["email"] == "ada@example.com")

            let contacts = try await client.get("/api/contacts", token: owner.token).json
            #expect(contacts["meta"]?["total"] == 1)
            #expect(contacts["data"]?[0]?["name"] == "Ada Lovelace")

            let emails = try await client.outbox(owner.token, "kind=support_acknowledgement")
            #expect(emails.count == 1)
            #expect(emails.first?["to"] == "ada@example.com")
            #expect(emails.first?["status"] == "queued", "recorded even without SMTP")
            #expect((emails.first?["subject"]?.stringValue ?? "").contains(number))
            let text = emails.first?["body"]?.stringValue ?? ""
            #expect(text.contains(number))
            #expect(!text.contains("LICENSE_EXPIRED"), "the visitor's text is not relayed")

            // The same address again: a second ticket, the same contact.
            let second = try await client.post("/api/support", json: .object(Self.request))
            #expect(second.json["ticketNumber"]?.stringValue?.hasSuffix("-0002") == true)
            #expect(try await client.get("/api/contacts", token: owner.token).json["meta"]?["total"] == 1)
        }
    }

    @Test func badSupportRequestsStoreNothing() async throws {
        try await TestServer.run(["rate.limit.support": 100]) { client, _ in
            let owner = try await client.register()
            let long = String(repeating: "a", count: 10_001)
            let cases: [(JSONObject, String)] = [
                (Self.request.removing("subject"), "subject"),
                (Self.request.setting("email", "not-an-email"), "email"),
                (Self.request.setting("message", .string(long)), "message"),
                (Self.request.setting("name", "   "), "name"),
            ]
            for (body, field) in cases {
                let answer = try await client.post("/api/support", json: .object(body))
                #expect(answer.status == .unprocessableContent, "\(field): \(answer.text)")
                #expect(answer.contentType.hasPrefix("application/problem+json"))
                #expect(answer.json["details"]?.arrayValue?.contains { $0["field"]?.stringValue == field } == true, "\(answer.text)")
            }
            #expect(try await client.get("/api/helpdesk/tickets", token: owner.token).json["meta"]?["total"] == 0)
            #expect(try await client.get("/api/contacts", token: owner.token).json["meta"]?["total"] == 0)
            #expect(try await client.outbox(owner.token).isEmpty)
        }
    }

    @Test func supportIsLimitedPerClientAddress() async throws {
        // Windows are aligned to the minute: a frozen clock keeps all six requests in one of them.
        let frozen = Date()
        try await TestServer.run(["trusted.proxies": "127.0.0.1"], clock: WallClock { frozen }) { client, _ in
            _ = try await client.register()
            let from = ["X-Forwarded-For": "198.51.100.7"]
            for remaining in (0..<5).reversed() {
                let answer = try await client.post("/api/support", json: .object(Self.request), headers: from)
                #expect(answer.status == .created)
                #expect(answer.header("X-RateLimit-Remaining") == String(remaining))
                #expect(answer.header("RateLimit-Policy") == "5;w=60")
            }
            let limited = try await client.post("/api/support", json: .object(Self.request), headers: from)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.json["code"] == "RATE_LIMITED")
            #expect(Int(limited.header("Retry-After") ?? "") != nil)
            let elsewhere = try await client.post(
                "/api/support", json: .object(Self.request), headers: ["X-Forwarded-For": "198.51.100.8"])
            #expect(elsewhere.status == .created)
        }
    }

    /// The sealed full text of an outbox message, opened with the server's key.
    static func sealedBody(_ config: AppConfiguration, id: String) async throws -> String {
        let sealed = try await withDatabase(config) { database in
            try await database.readRows("SELECT sealed_body FROM email_outbox WHERE id = \(bind: id)").first?.text("sealed_body")
        }
        let key = try #require(config.secretsKey.flatMap { Data(base64Encoded: $0) })
        return try SecretBox(key: SymmetricKey(data: key)).open(try #require(sealed))
    }

    @Test func newsletterDoubleOptInWithSingleUseTokensAndSignedUnsubscribe() async throws {
        try await TestServer.run(
            [
                "public.url": "https://shop.example.com",
                "secrets.key": .init(stringLiteral: Data(repeating: 7, count: 32).base64EncodedString()),
            ]
        ) { client, config in
            let owner = try await client.register()
            let first = try await client.post("/api/newsletter/subscribe", json: ["email": "Reader@Example.com", "lists": ["news"]])
            #expect(first.status == .accepted, "\(first.text)")
            let again = try await client.post("/api/newsletter/subscribe", json: ["email": "reader@example.com", "lists": ["news"]])
            #expect(again.text == first.text, "a repeat looks the same")

            let pending = try await client.get("/api/newsletter/subscribers?status=pending", token: owner.token).json
            #expect(pending["meta"]?["total"] == 1)
            #expect(pending["data"]?[0]?["email"] == "reader@example.com")
            let confirmations = try await client.outbox(owner.token, "kind=newsletter_confirmation")
            #expect(confirmations.count == 1, "one confirmation for two requests")
            let shown = confirmations.first?["body"]?.stringValue ?? ""
            #expect(shown.contains("confirm?token=\(EmailOutbox.redacted)"), "admins see the link without its token: \(shown)")
            // What the SMTP server will receive: the full text, sealed in the outbox until it is sent.
            let text = try await Self.sealedBody(config, id: confirmations.first?["id"]?.stringValue ?? "")
            let prefix = "https://shop.example.com/api/newsletter/confirm?token="
            guard let start = text.range(of: prefix) else {
                Issue.record("no confirmation link in \(text)")
                return
            }
            let token = String(text[start.upperBound...].prefix { $0.isLetter || $0.isNumber })

            let wrong = try await client.get("/api/newsletter/confirm?token=nope")
            #expect(wrong.status == .notFound)
            #expect(wrong.json["code"] == "INVALID_TOKEN")
            let confirmed = try await client.get("/api/newsletter/confirm?token=\(token)")
            #expect(confirmed.status == .ok, "\(confirmed.text)")
            #expect(confirmed.json["email"] == "reader@example.com")
            let reused = try await client.get("/api/newsletter/confirm?token=\(token)")
            #expect(reused.status == .notFound)
            #expect(reused.json["code"] == "INVALID_TOKEN")
            let subscribed = try await client.get("/api/newsletter/subscribers?status=subscribed", token: owner.token).json
            #expect(subscribed["data"]?[0]?["confirmedAt"]?.stringValue != nil)

            // Already subscribed: the same answer, and no new email.
            let known = try await client.post("/api/newsletter/subscribe", json: ["email": "reader@example.com", "lists": ["news"]])
            #expect(known.text == first.text)
            #expect(try await client.outbox(owner.token, "kind=newsletter_confirmation").count == 1)

            let welcome = try await client.outbox(owner.token, "kind=newsletter_welcome").first?["body"]?.stringValue ?? ""
            guard let link = welcome.range(of: "https://shop.example.com/api/newsletter/unsubscribe?") else {
                Issue.record("no unsubscribe link in \(welcome)")
                return
            }
            let query = String(welcome[link.upperBound...].prefix { !$0.isWhitespace })
            let tampered = try await client.request(
                .post, "/api/newsletter/unsubscribe?" + query.replacingOccurrences(of: "token=", with: "token=x"))
            #expect(tampered.status == .unprocessableContent)
            #expect(tampered.json["details"]?[0]?["field"] == "token")
            let page = try await client.get("/api/newsletter/unsubscribe?" + query)
            #expect(page.status == .ok)
            #expect(page.contentType.hasPrefix("text/html"))
            #expect(page.text.contains("<form method=\"post\""))
            #expect(
                try await client.get("/api/newsletter/subscribers?status=subscribed", token: owner.token).json["meta"]?["total"] == 1,
                "opening the link changes nothing")
            let unsubscribed = try await client.request(.post, "/api/newsletter/unsubscribe?" + query)
            #expect(unsubscribed.status == .ok, "\(unsubscribed.text)")
            #expect(unsubscribed.json["status"] == "unsubscribed")
            let state = try await client.get("/api/newsletter/subscribers?status=unsubscribed", token: owner.token).json
            #expect(state["meta"]?["total"] == 1)

            let bad = try await client.post("/api/newsletter/subscribe", json: ["email": "nope"])
            #expect(bad.status == .unprocessableContent)
        }
    }
}

extension JSONObject {
    func removing(_ key: String) -> JSONObject {
        JSONObject(members.filter { $0.key != key }.map { ($0.key, $0.value) })
    }

    func setting(_ key: String, _ value: JSONValue) -> JSONObject {
        var copy = self
        copy[key] = value
        return copy
    }
}
