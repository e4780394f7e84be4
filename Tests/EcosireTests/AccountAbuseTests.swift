import Configuration
import Crypto
import Ecosire
import Foundation
import HTTPTypes
import Testing

/// What a hostile visitor tries on the account routes: floods from one address, guesses at one
/// email from many, and password resets that would tell which addresses have accounts.
@Suite("Account routes under abuse")
struct AccountAbuseTests {
    static let secretsKey = ConfigValue(stringLiteral: Data(repeating: 9, count: 32).base64EncodedString())

    @Test("register, login and refresh share one limit per client address, with the standard headers")
    func perAddressLimit() async throws {
        // A fixed clock keeps every request inside one window even at a minute boundary.
        let frozen = Date()
        try await TestServer.run(["rate.limit.auth": 3, "trusted.proxies": "127.0.0.1"], clock: WallClock { frozen }) { client, _ in
            for attempt in 1...2 {
                let created = try await client.post(
                    "/api/auth/register", json: ["email": .string("flood\(attempt)@example.com"), "password": "password123", "name": "F"])
                #expect(created.status == .created, "\(created.text)")
                #expect(created.header("RateLimit-Policy") == "3;w=60")
                #expect(created.header("X-RateLimit-Remaining") == String(3 - attempt))
            }
            let login = try await client.post("/api/auth/login", json: ["email": "flood1@example.com", "password": "wrong-password"])
            #expect(login.status == .unauthorized)
            #expect(login.header("X-RateLimit-Remaining") == "0", "login counts against the same address budget")
            let refused = try await client.post(
                "/api/auth/register", json: ["email": "flood9@example.com", "password": "password123", "name": "F"])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.json["code"] == "RATE_LIMITED")
            #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
            #expect(refused.header("RateLimit") != nil && refused.header("X-RateLimit-Reset") != nil)
            #expect(try await client.post("/api/auth/refresh", json: ["refreshToken": "rt_x"]).status == .tooManyRequests)
            // Nothing was written for the refused registration.
            let other = ["X-Forwarded-For": "203.0.113.7"]
            let later = try await client.post(
                "/api/auth/login", json: ["email": "flood9@example.com", "password": "password123"], headers: other)
            #expect(later.status == .unauthorized, "another address has its own budget, and flood9 has no account")
        }
    }

    @Test("guesses at one email are limited across addresses; the tightest limit's headers are shown")
    func perEmailLimit() async throws {
        let frozen = Date()
        try await TestServer.run(["rate.limit.auth.email": 3, "trusted.proxies": "127.0.0.1"], clock: WallClock { frozen }) {
            client, _ in
            // Registering names the email too: one of its three.
            try await client.register(email: "victim@example.com")
            for (index, address) in ["198.51.100.1", "198.51.100.2"].enumerated() {
                let guess = try await client.post(
                    "/api/auth/login", json: ["email": "victim@example.com", "password": "guess-\(index)"],
                    headers: ["X-Forwarded-For": address])
                #expect(guess.status == .unauthorized)
                #expect(guess.header("RateLimit-Policy") == "3;w=60", "the email limit is the tightest")
                #expect(guess.header("X-RateLimit-Remaining") == String(1 - index))
            }
            let blocked = try await client.post(
                "/api/auth/login", json: ["email": "victim@example.com", "password": "password123"],
                headers: ["X-Forwarded-For": "198.51.100.3"])
            #expect(blocked.status == .tooManyRequests, "\(blocked.text)")
            let reset = try await client.post(
                "/api/auth/password-reset", json: ["email": "Victim@Example.com"], headers: ["X-Forwarded-For": "198.51.100.4"])
            #expect(reset.status == .tooManyRequests, "a reset names the same email")
            let someoneElse = try await client.post(
                "/api/auth/login", json: ["email": "other@example.com", "password": "x"], headers: ["X-Forwarded-For": "198.51.100.3"])
            #expect(someoneElse.status == .unauthorized)
        }
    }

    @Test(
        "a password reset answers the same for every address; one of its links sets the password once, cancels the others and ends every session"
    )
    func passwordReset() async throws {
        try await TestServer.run(["public.url": "https://app.example.com", "secrets.key": Self.secretsKey]) { client, config in
            let account = try await client.register(email: "forgetful@example.com")
            let known = try await client.post("/api/auth/password-reset", json: ["email": "Forgetful@Example.com"])
            let unknown = try await client.post("/api/auth/password-reset", json: ["email": "nobody@example.com"])
            #expect(known.status == .accepted)
            #expect(unknown.status == known.status && unknown.text == known.text, "the answer does not tell the addresses apart")

            let mails = try await Self.resetEmails(client, account.token, count: 1)
            #expect(mails.count == 1, "one email, to the known address only")
            // Under an Idempotency-Key the request runs in a transaction that ends with the answer;
            // the email is queued after it, on its own (it ran in the ended transaction once).
            let keyed = try await client.post(
                "/api/auth/password-reset", json: ["email": "forgetful@example.com"], headers: ["Idempotency-Key": "reset-1"])
            #expect(keyed.status == .accepted)
            let afterKeyed = try await Self.resetEmails(client, account.token, count: 2)
            #expect(afterKeyed.count == 2, "the keyed request's email is queued too")
            #expect(mails.first?["to"]?.stringValue?.contains("forgetful@example.com") == true, "\(mails)")
            #expect(mails.first?["body"]?.stringValue?.contains("prt_") == false, "the stored body has the token redacted")
            let first = try await Self.token(config, mails.first)

            // Several links are out; using one cancels the others.
            let second = try await Self.token(config, afterKeyed.first)
            #expect(second != first)

            let short = try await client.post("/api/auth/password-reset/confirm", json: ["token": .string(second), "password": "short"])
            #expect(short.status == .unprocessableContent && short.json["details"]?[0]?["field"] == "password")
            let confirmed = try await client.post(
                "/api/auth/password-reset/confirm", json: ["token": .string(second), "password": "new-password-1"])
            #expect(confirmed.status == .noContent, "\(confirmed.text)")
            for used in [second, first] {
                let again = try await client.post(
                    "/api/auth/password-reset/confirm", json: ["token": .string(used), "password": "other-pass-2"])
                #expect(again.status == .notFound && again.json["code"] == "INVALID_TOKEN", "\(again.text)")
            }

            #expect(
                try await client.post("/api/auth/refresh", json: ["refreshToken": .string(account.refreshToken)]).status == .unauthorized,
                "every session ended")
            #expect(
                try await client.post("/api/auth/login", json: ["email": "forgetful@example.com", "password": "password123"]).status
                    == .unauthorized)
            #expect(
                try await client.post("/api/auth/login", json: ["email": "forgetful@example.com", "password": "new-password-1"]).status
                    == .ok)
        }
    }

    @Test("text is stored in NFC: an accent sent decomposed is the same name, search and length")
    func textIsNormalized() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let created = try await client.post("/api/contacts", token: owner.token, json: ["name": "Cafe\u{301} Lumie\u{300}re"])
            #expect(created.status == .created, "\(created.text)")
            let name = created.json["name"]?.stringValue ?? ""
            #expect(Array(name.unicodeScalars) == Array("Caf\u{E9} Lumi\u{E8}re".unicodeScalars), "stored composed")
            let found = try await client.get("/api/contacts?search=Cafe%CC%81", token: owner.token)
            #expect(found.json["meta"]?["total"] == 1, "a decomposed search finds it: \(found.text)")
            // Two member names that are one name once normalized are a duplicate.
            let duplicate = try await client.request(
                .post, "/api/contacts", token: owner.token, body: "{\"name\":\"x\",\"tag\u{E9}\":1,\"tage\u{301}\":2}",
                headers: ["Content-Type": "application/json"])
            #expect(duplicate.status == .badRequest, "\(duplicate.text)")
        }
    }

    /// The outbox's password-reset emails, newest first, once `count` are there.
    static func resetEmails(_ client: TestClientSession, _ token: String, count: Int) async throws -> [JSONValue] {
        // The email is queued after the answer (so the answer's timing tells nothing).
        for _ in 0..<100 {
            let mails = try await client.outbox(token, "kind=password_reset&sortBy=createdAt&sortOrder=desc")
            if mails.count >= count { return mails }
            try await Task.sleep(for: .milliseconds(50))
        }
        return []
    }

    /// The token in a reset email, read from its sealed body (what the SMTP server receives).
    static func token(_ config: AppConfiguration, _ mail: JSONValue?) async throws -> String {
        let text = try await IntakeTests.sealedBody(config, id: mail?["id"]?.stringValue ?? "")
        let prefix = "https://app.example.com/dashboard/reset-password?token="
        let start = try #require(text.range(of: prefix), "no reset link in \(text)")
        return String(text[start.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" })
    }
}
