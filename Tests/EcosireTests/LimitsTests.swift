import Configuration
import Crypto
import Ecosire
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import SQLKit
import Testing

@Suite("Rate limits, quotas and idempotency")
struct LimitsTests {
    @Test("200 parallel requests against a 100/min route accept exactly 100; 429 carries every header")
    func exactUnderConcurrency() async throws {
        let frozen = Date()
        try await TestServer.run(["quota.free": 0], clock: WallClock { frozen }, testing: .ahc(.http)) { client, _ in
            let owner = try await client.register()
            let statuses = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for _ in 0..<200 { group.addTask { try await client.get("/api/contacts?limit=1", token: owner.token) } }
                return try await group.reduce(into: [APIResponse]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0.status == .ok }.count == 100)
            #expect(statuses.filter { $0.status == .tooManyRequests }.count == 100)
            let limited = try #require(statuses.first { $0.status == .tooManyRequests })
            #expect(limited.json["code"] == "RATE_LIMITED")
            #expect(limited.contentType == "application/problem+json")
            #expect(limited.header("X-RateLimit-Limit") == "100")
            #expect(limited.header("X-RateLimit-Remaining") == "0")
            #expect(limited.header("RateLimit-Policy") == "100;w=60")
            #expect(limited.header("RateLimit")?.hasPrefix("limit=100, remaining=0, reset=") == true)
            let reset = try #require(Int64(limited.header("X-RateLimit-Reset") ?? ""))
            let now = Int64(frozen.timeIntervalSince1970)
            #expect(reset > now && reset <= now + 60)
            #expect(Int64(limited.header("Retry-After") ?? "") == reset - now)
            let accepted = try #require(statuses.first { $0.status == .ok })
            #expect(accepted.header("X-RateLimit-Limit") == "100")
        }
    }

    @Test("limits are per caller and come from configuration; a key and its owner count separately")
    func perCallerConfigured() async throws {
        let frozen = Date()
        try await TestServer.run(["rate.limit.default": 2], clock: WallClock { frozen }) { client, _ in
            let alice = try await client.register()
            let bob = try await client.register()
            let key = try #require(try await client.createKey(alice.token, ["scope": "read_only"])["key"]?.stringValue)
            // The key creation above was Alice's first request of the window.
            #expect(try await client.get("/api/contacts", token: alice.token).header("X-RateLimit-Remaining") == "0")
            #expect(try await client.get("/api/contacts", token: alice.token).status == .tooManyRequests)
            #expect(try await client.get("/api/contacts", token: bob.token).status == .ok)
            #expect(try await client.get("/api/contacts", token: key).status == .ok)
            #expect(try await client.get("/api/contacts", token: key).status == .ok)
            #expect(try await client.get("/api/contacts", token: key).status == .tooManyRequests)
            // Public routes without a class are not limited.
            #expect(try await client.get("/api/health").header("X-RateLimit-Limit") == nil)
        }
    }

    @Test("X-Forwarded-For decides the client address only when the peer is a trusted proxy")
    func forwardedForFromTrustedProxiesOnly() async throws {
        let frozen = Date()
        for trusted in [false, true] {
            let overrides: [String: ConfigValue] =
                trusted ? ["rate.limit.login": 1, "trusted.proxies": "127.0.0.1,::1"] : ["rate.limit.login": 1]
            try await TestServer.run(overrides, clock: WallClock { frozen }) { client, _ in
                let attempt: JSONValue = ["email": "someone@example.com", "password": "wrong-password"]
                let first = try await client.post("/api/auth/login", json: attempt, headers: ["X-Forwarded-For": "203.0.113.7"])
                #expect(first.status == .unauthorized)
                let second = try await client.post("/api/auth/login", json: attempt, headers: ["X-Forwarded-For": "203.0.113.8"])
                // Trusted: another client address, another budget. Untrusted: the header is ignored.
                #expect(second.status == (trusted ? .unauthorized : .tooManyRequests), "trusted: \(trusted)")
            }
        }
    }

    @Test("the plan's daily quota answers 429 QUOTA_EXCEEDED until the next UTC day")
    func dailyQuota() async throws {
        let clock = ManualClock()
        try await TestServer.run(["quota.free": 3], clock: clock.wallClock) { client, _ in
            let owner = try await client.register()
            // The quota counts the organization, whoever calls: the key creation is call 1.
            let key = try #require(try await client.createKey(owner.token)["key"]?.stringValue)
            #expect(try await client.get("/api/contacts", token: owner.token).status == .ok)
            #expect(try await client.get("/api/contacts", token: key).status == .ok)
            let exhausted = try await client.get("/api/contacts", token: key)
            #expect(exhausted.status == .tooManyRequests)
            #expect(exhausted.json["code"] == "QUOTA_EXCEEDED")
            #expect(exhausted.header("X-RateLimit-Limit") == "3")
            #expect(exhausted.header("RateLimit-Policy") == "3;w=86400")
            let retryAfter = try #require(Int(exhausted.header("Retry-After") ?? ""))
            #expect(retryAfter >= 1 && retryAfter <= 86_400)
            #expect(try await client.get("/api/contacts", token: owner.token).json["code"] == "QUOTA_EXCEEDED")
            clock.advance(by: TimeInterval(retryAfter))
            #expect(try await client.get("/api/contacts", token: key).status == .ok)
        }
    }

    @Test("Idempotency-Key used at the same moment by two different requests: one runs, the other is 422 REUSED on both backends")
    func concurrentReuse() async throws {
        try await TestServer.run(testing: .ahc(.http)) { client, _ in
            let owner = try await client.register()
            var refusals: [String] = []
            for round in 0..<12 {
                let headers = ["Idempotency-Key": "race-\(round)"]
                let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                    for name in ["First \(round)", "Second \(round)"] {
                        group.addTask {
                            try await client.post("/api/contacts", token: owner.token, json: ["name": .string(name)], headers: headers)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.filter { $0.status == .created }.count == 1, "one of them runs: \(answers.map(\.text))")
                refusals += answers.filter { $0.status != .created }.map { $0.json["code"]?.stringValue ?? $0.text }
            }
            // PostgreSQL claims side by side: the loser used to be told 409 IN_USE, as if it were a retry.
            #expect(Set(refusals) == ["IDEMPOTENCY_KEY_REUSED"], "\(refusals)")
        }
    }

    @Test("a second identical request while the first runs is IN_USE, also when the process lease is late (a starved pool)")
    func claimOutlivesLateLease() async throws {
        try await TestServer.run { _, config in
            try await withDatabase(config) { database in
                // A lease never written is as late as one can be: another process would call the
                // claim abandoned, but its own process knows the request is still running.
                let lease = ProcessLease(database: database, clock: .system, logger: Logger(label: "late-lease"))
                let store = IdempotencyStore(database: database, clock: .system, lease: lease)
                guard case .proceed = try await store.claim(owner: "user:1", key: "k", requestHash: "h") else {
                    Issue.record("the first claim must proceed")
                    return
                }
                defer { store.finished(owner: "user:1", key: "k") }
                do {
                    let second = try await store.claim(owner: "user:1", key: "k", requestHash: "h")
                    Issue.record("the second identical request got \(second) while the first runs: it would write twice")
                } catch let error as APIError {
                    #expect(error.code == "IDEMPOTENCY_KEY_IN_USE", "\(error)")
                }
            }
        }
    }

    @Test("Idempotency-Key: replay with the same body, 422 with another, per caller, bad keys are 400")
    func idempotentReplay() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let headers = ["Idempotency-Key": "order-42"]
            let first = try await client.post("/api/contacts", token: owner.token, json: ["name": "Once"], headers: headers)
            #expect(first.status == .created)
            #expect(first.header("Idempotent-Replayed") == nil)
            let replay = try await client.post("/api/contacts", token: owner.token, json: ["name": "Once"], headers: headers)
            #expect(replay.status == .created)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.json == first.json)
            #expect(replay.header("Location") == first.header("Location"))
            #expect(try await client.get("/api/contacts", token: owner.token).json["meta"]?["total"] == 1)

            let reused = try await client.post("/api/contacts", token: owner.token, json: ["name": "Twice"], headers: headers)
            #expect(reused.status == .unprocessableContent)
            #expect(reused.json["code"] == "IDEMPOTENCY_KEY_REUSED")

            // A refusal by the handler is the stored result too.
            let conflictHeaders = ["Idempotency-Key": "dup-email"]
            _ = try await client.createContact(owner.token, ["name": "A", "email": "a@example.com"])
            let conflict = try await client.post(
                "/api/contacts", token: owner.token, json: ["name": "B", "email": "a@example.com"], headers: conflictHeaders)
            #expect(conflict.status == .conflict)
            let conflictReplay = try await client.post(
                "/api/contacts", token: owner.token, json: ["name": "B", "email": "a@example.com"], headers: conflictHeaders)
            #expect(conflictReplay.status == .conflict && conflictReplay.header("Idempotent-Replayed") == "true")

            // Another caller's key space is separate.
            let other = try await client.register()
            #expect(
                try await client.post("/api/contacts", token: other.token, json: ["name": "Twice"], headers: headers).status == .created)

            // Answers carrying secrets are never stored, so those operations refuse the header.
            let secretBearing = try await client.post("/api/api-keys", token: owner.token, json: [:], headers: ["Idempotency-Key": "k1"])
            #expect(secretBearing.status == .badRequest && secretBearing.json["success"] == false)
            #expect(secretBearing.json["details"]?.arrayValue?.first?["field"] == "Idempotency-Key")
            #expect(try await client.get("/api/api-keys", token: owner.token).json["api_keys"]?.arrayValue?.isEmpty == true)
            let login = try await client.post(
                "/api/auth/login", json: ["email": .string(owner.email), "password": "password123"], headers: ["Idempotency-Key": "k2"])
            #expect(login.status == .badRequest)

            let bad = try await client.post(
                "/api/contacts", token: owner.token, json: ["name": "x"], headers: ["Idempotency-Key": String(repeating: "k", count: 256)])
            #expect(bad.status == .badRequest)
            #expect(bad.json["details"]?.arrayValue?.first?["field"] == "Idempotency-Key")
        }
    }

    @Test("an Idempotency-Key is remembered for 24 hours, then free again")
    func idempotencyRetention() async throws {
        let clock = ManualClock()
        try await TestServer.run(clock: clock.wallClock) { client, _ in
            let owner = try await client.register()
            let headers = ["Idempotency-Key": "daily-sync"]
            #expect(
                try await client.post("/api/contacts", token: owner.token, json: ["name": "Monday"], headers: headers).status == .created)
            clock.advance(by: 23 * 3600)
            let login = try await client.post("/api/auth/login", json: ["email": .string(owner.email), "password": "password123"])
            let token = try #require(login.json["token"]?.stringValue)
            let sameDay = try await client.post("/api/contacts", token: token, json: ["name": "Tuesday"], headers: headers)
            #expect(sameDay.status == .unprocessableContent && sameDay.json["code"] == "IDEMPOTENCY_KEY_REUSED")
            clock.advance(by: 3600 + 1)
            let nextDay = try await client.post("/api/contacts", token: token, json: ["name": "Tuesday"], headers: headers)
            #expect(nextDay.status == .created && nextDay.header("Idempotent-Replayed") == nil)
        }
    }

    @Test("identical concurrent requests under one key create one record; the others replay it or get 409")
    func idempotentUnderConcurrency() async throws {
        try await TestServer.run(testing: .ahc(.http)) { client, _ in
            let owner = try await client.register()
            let responses = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.post(
                            "/api/contacts", token: owner.token, json: ["name": "Once"], headers: ["Idempotency-Key": "race"])
                    }
                }
                return try await group.reduce(into: [APIResponse]()) { $0.append($1) }
            }
            let originals = responses.filter { $0.status == .created && $0.header("Idempotent-Replayed") == nil }
            #expect(originals.count == 1)
            for response in responses where response.status != .created {
                #expect(response.status == .conflict && response.json["code"] == "IDEMPOTENCY_KEY_IN_USE", "\(response.text)")
            }
            let ids = Set(responses.filter { $0.status == .created }.compactMap { $0.json["id"]?.stringValue })
            #expect(ids.count == 1)
            #expect(try await client.get("/api/contacts", token: owner.token).json["meta"]?["total"] == 1)
        }
    }

    @Test("a claim whose holder's lease ran out is taken over at once; a live holder's claim is a 409 with Retry-After")
    func abandonedClaimsFollowTheHoldersLease() async throws {
        try await TestServer.run { client, config in
            let owner = try await client.register()
            try await withDatabase(config) { database in
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                // Claims as a process that died (its lease expired a moment ago) and one that still runs left them.
                _ = try await database.run(
                    """
                    INSERT INTO process_leases (holder, expires_at) VALUES ('process-dead', \(bind: now - 1)), ('process-alive', \(bind: now + 60_000))
                    """)
                // The claim of the same request: its fingerprint is method, path and the parsed body.
                let hash = SHA256.hash(data: Data("POST\n/api/contacts\n{\"name\":\"Busy\"}".utf8)).map { String(format: "%02x", $0) }
                    .joined()
                for (key, holder) in [("dead", "process-dead"), ("alive", "process-alive")] {
                    _ = try await database.run(
                        """
                        INSERT INTO idempotency_records (owner, idempotency_key, request_hash, created_at, holder)
                        VALUES (\(bind: "user:" + owner.userID), \(bind: key), \(bind: hash), \(bind: now), \(bind: holder))
                        """)
                }
                let retried = try await client.post(
                    "/api/contacts", token: owner.token, json: ["name": "Retried"], headers: ["Idempotency-Key": "dead"])
                #expect(retried.status == .created, "\(retried.text)")
                #expect(retried.header("Idempotent-Replayed") == nil)
                let busy = try await client.post(
                    "/api/contacts", token: owner.token, json: ["name": "Busy"], headers: ["Idempotency-Key": "alive"])
                #expect(busy.status == .conflict)
                #expect(busy.json["code"] == "IDEMPOTENCY_KEY_IN_USE")
                #expect(busy.header("Retry-After") == "1")
                _ = try await database.run("UPDATE process_leases SET expires_at = \(bind: now - 1) WHERE holder = 'process-alive'")
                let taken = try await client.post(
                    "/api/contacts", token: owner.token, json: ["name": "Busy"], headers: ["Idempotency-Key": "alive"])
                #expect(taken.status == .created, "\(taken.text)")
                // Replays of what this process answered carry the lease of this process.
                let replay = try await client.post(
                    "/api/contacts", token: owner.token, json: ["name": "Busy"], headers: ["Idempotency-Key": "alive"])
                #expect(replay.header("Idempotent-Replayed") == "true")
                #expect(try await client.get("/api/contacts", token: owner.token).json["meta"]?["total"] == 2)
            }
        }
    }

    @Test("two servers on one PostgreSQL database enforce one limit")
    func sharedAcrossInstances() async throws {
        guard ProcessInfo.processInfo.environment["TEST_DATABASE_URL"]?.isEmpty == false else { return }
        let frozen = Date()
        try await TestServer.run(["rate.limit.default": 30], clock: WallClock { frozen }, testing: .ahc(.http)) { first, config in
            let schema = try #require(config.databaseSchema)
            try await TestServer.run(
                // Instances of one cluster share the database and the token signing key.
                [
                    "rate.limit.default": 30, "database.schema": .init(stringLiteral: schema),
                    "data.dir": .init(stringLiteral: config.dataDirectory),
                ], clock: WallClock { frozen }, testing: .ahc(.http)
            ) { second, _ in
                let owner = try await first.register()
                let responses = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                    for index in 0..<80 {
                        let client = index % 2 == 0 ? first : second
                        group.addTask { try await client.get("/api/contacts?limit=1", token: owner.token) }
                    }
                    return try await group.reduce(into: [APIResponse]()) { $0.append($1) }
                }
                #expect(responses.filter { $0.status == .ok }.count == 30)
                let refused = responses.filter { $0.status != .ok }
                #expect(refused.count == 50)
                for response in refused { #expect(response.json["code"] == "RATE_LIMITED", "\(response.text)") }
            }
        }
    }
}
