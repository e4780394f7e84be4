import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(Date())
    var wallClock: WallClock { WallClock { self.current.withLock { $0 } } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

extension TestClientSession {
    /// Creates an API key with the given body; returns the response's `api_key` object.
    func createKey(_ token: String, _ fields: JSONObject = [:]) async throws -> JSONValue {
        let response = try await post("/api/api-keys", token: token, json: .object(fields))
        #expect(response.status == .created, "create key: \(response.text)")
        return response.json["api_key"] ?? .null
    }

    /// A key's usage, read again until `total_requests` reaches `total` (usage is written in
    /// batches) or about five seconds pass; the last answer either way.
    func usage(of keyID: String, token: String, reaching total: Int64) async throws -> JSONValue {
        var usage = JSONValue.null
        for _ in 0..<250 {
            usage = try await get("/api/api-keys/\(keyID)/usage", token: token).json
            if usage["usage"]?["total_requests"] == .int(total) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return usage
    }
}

@Suite("API keys")
struct APIKeyTests {
    @Test("the seed's list, create and delete calls answer exactly the documented shapes")
    func eazipShapes() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let created = try await client.request(
                .post, "/api/api-keys", token: owner.token,
                body: #"{"name": "CI/CD Pipeline", "expires_at": "2099-12-31T23:59:59Z"}"#, headers: ["Content-Type": "application/json"])
            #expect(created.status == .created)
            #expect(created.json["success"] == true)
            let key = try #require(created.json["api_key"]?.objectValue)
            #expect(
                Set(key.keys) == [
                    "id", "name", "prefix", "key", "scope", "environment", "created_at", "expires_at", "last_used_at", "revoked_at",
                    "rotated_from", "usage",
                ])
            #expect(key["name"] == "CI/CD Pipeline")
            #expect(key["expires_at"] == "2099-12-31T23:59:59.000Z")
            #expect(key["last_used_at"] == .null)
            #expect(key["scope"] == "read_write" && key["environment"] == "live")
            let secret = try #require(key["key"]?.stringValue)
            #expect(secret.wholeMatch(of: /ecos_live_[0-9A-Za-z]{32}/) != nil)
            #expect(key["prefix"]?.stringValue == String(secret.prefix(12)))

            let list = try await client.get("/api/api-keys", token: owner.token)
            #expect(list.status == .ok)
            #expect(list.json["success"] == true)
            let listed = try #require(list.json["api_keys"]?.arrayValue)
            #expect(listed.count == 1)
            #expect(listed[0]["key"] == nil, "the secret is never listed")
            #expect(!list.text.contains(secret))

            let id = try #require(key["id"]?.stringValue)
            let revoked = try await client.delete("/api/api-keys/\(id)", token: owner.token)
            #expect(revoked.status == .ok)
            #expect(revoked.json == ["success": true, "message": "API key revoked"])
            #expect(try await client.get("/api/api-keys", token: owner.token).json["api_keys"]?.arrayValue?.count == 0)
            let withRevoked = try await client.get("/api/api-keys?include_revoked=true", token: owner.token)
            #expect(withRevoked.json["api_keys"]?.arrayValue?.first?["revoked_at"]?.stringValue != nil)
            let gone = try await client.get("/api/api-keys/\(id)", token: owner.token)
            #expect(gone.status == .notFound && gone.json["success"] == false)
            #expect(try await client.get("/api/api-keys/\(id)/usage", token: owner.token).status == .ok, "usage stays readable")
        }
    }

    @Test("create → use → rotate → both work → 24 h later the old one is API_KEY_EXPIRED → revoke → 401")
    func lifecycle() async throws {
        let clock = ManualClock()
        try await TestServer.run(clock: clock.wallClock) { client, _ in
            let owner = try await client.register()
            let original = try await client.createKey(owner.token, ["name": "Production", "scope": "admin"])
            let oldSecret = try #require(original["key"]?.stringValue)
            let oldID = try #require(original["id"]?.stringValue)
            #expect(try await client.get("/api/contacts", token: oldSecret).status == .ok)
            let me = try await client.get("/api/users/me", token: oldSecret)
            #expect(me.json["id"]?.stringValue == owner.userID, "a key authenticates as its owner")

            let rotated = try await client.request(.post, "/api/api-keys/\(oldID)/rotate", token: owner.token)
            #expect(rotated.status == .created)
            let replacement = try #require(rotated.json["api_key"])
            let newSecret = try #require(replacement["key"]?.stringValue)
            #expect(replacement["rotated_from"]?.stringValue == oldID)
            #expect(replacement["name"] == "Production" && replacement["scope"] == "admin")
            #expect(newSecret != oldSecret)
            #expect(try await client.get("/api/contacts", token: oldSecret).status == .ok)
            #expect(try await client.get("/api/contacts", token: newSecret).status == .ok)
            let again = try await client.request(.post, "/api/api-keys/\(oldID)/rotate", token: owner.token)
            #expect(again.status == .conflict && again.json["success"] == false)

            clock.advance(by: 24 * 3600 + 1)
            let expired = try await client.get("/api/contacts", token: oldSecret)
            #expect(expired.status == .unauthorized)
            #expect(expired.json["code"] == "API_KEY_EXPIRED")
            #expect(try await client.get("/api/contacts", token: newSecret).status == .ok)

            let newID = try #require(replacement["id"]?.stringValue)
            #expect(try await client.delete("/api/api-keys/\(newID)", token: newSecret).status == .ok, "an admin key may revoke itself")
            let revoked = try await client.get("/api/contacts", token: newSecret)
            #expect(revoked.status == .unauthorized)
            #expect(revoked.json["code"] == "API_KEY_REVOKED")
            let unknown = try await client.get("/api/contacts", token: "ecos_live_" + String(repeating: "A", count: 32))
            #expect(unknown.status == .unauthorized && unknown.json["code"] == "UNAUTHORIZED")
        }
    }

    @Test("a key that expires is refused from that moment, cached or not")
    func expiryIsCheckedEveryRequest() async throws {
        let clock = ManualClock()
        try await TestServer.run(["api.key.cache.seconds": 3600], clock: clock.wallClock) { client, _ in
            let owner = try await client.register()
            let expiresAt = Timestamp.iso(millis: Int64((clock.wallClock.now().timeIntervalSince1970 + 60) * 1000))
            let key = try await client.createKey(owner.token, ["expires_at": .string(expiresAt)])
            let secret = try #require(key["key"]?.stringValue)
            #expect(try await client.get("/api/contacts", token: secret).status == .ok)
            clock.advance(by: 61)
            #expect(try await client.get("/api/contacts", token: secret).json["code"] == "API_KEY_EXPIRED")
        }
    }

    @Test("scopes: read_only reads, read_write writes but cannot manage keys, admin can; test keys work")
    func scopeMatrix() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let readOnly = try #require(try await client.createKey(owner.token, ["scope": "read_only"])["key"]?.stringValue)
            let readWrite = try #require(try await client.createKey(owner.token, ["scope": "read_write"])["key"]?.stringValue)
            let admin = try #require(
                try await client.createKey(owner.token, ["scope": "admin", "environment": "test"])["key"]?.stringValue)
            #expect(admin.hasPrefix("ecos_test_"))
            let contact: JSONValue = ["name": "Scoped"]
            let cases: [(String, HTTPRequest.Method, String, JSONValue?, HTTPResponse.Status)] = [
                (readOnly, .get, "/api/contacts", nil, .ok),
                (readOnly, .get, "/api/users/me", nil, .ok),
                (readOnly, .post, "/api/contacts", contact, .forbidden),
                (readOnly, .get, "/api/api-keys", nil, .forbidden),
                (readWrite, .post, "/api/contacts", contact, .created),
                (readWrite, .get, "/api/contacts", nil, .ok),
                (readWrite, .get, "/api/api-keys", nil, .forbidden),
                (readWrite, .post, "/api/api-keys", [:], .forbidden),
                (admin, .get, "/api/api-keys", nil, .ok),
                (admin, .post, "/api/contacts", contact, .created),
                (admin, .post, "/api/api-keys", [:], .created),
            ]
            for (secret, method, path, body, expected) in cases {
                let response = try await client.request(method, path, token: secret, json: body)
                #expect(response.status == expected, "\(secret.prefix(10)) \(method) \(path): \(response.text)")
                if expected == .forbidden {
                    #expect(response.json["code"] == "FORBIDDEN")
                }
            }
        }
    }

    @Test("another user's key is a 404 with success false on every route")
    func otherUsersKeys() async throws {
        try await TestServer.run { client, _ in
            let alice = try await client.register()
            let bob = try await client.register()
            let id = try #require(try await client.createKey(alice.token)["id"]?.stringValue)
            let attempts: [(HTTPRequest.Method, String)] = [
                (.get, "/api/api-keys/\(id)"), (.delete, "/api/api-keys/\(id)"), (.post, "/api/api-keys/\(id)/rotate"),
                (.get, "/api/api-keys/\(id)/usage"), (.get, "/api/api-keys/\(id)/audit"),
                (.get, "/api/api-keys/\(UUID().uuidString.lowercased())"),
            ]
            for (method, path) in attempts {
                let response = try await client.request(method, path, token: bob.token)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(response.json["success"] == false)
                #expect(response.json["code"] == "NOT_FOUND")
            }
            #expect(try await client.get("/api/api-keys", token: bob.token).json["api_keys"]?.arrayValue?.isEmpty == true)
            #expect(try await client.get("/api/api-keys/\(id)", token: alice.token).status == .ok)
        }
    }

    @Test("every invalid create body is a 422 naming the field, and nothing is stored")
    func validation() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register()
            let cases: [(JSONValue, String)] = [
                (["name": .string(String(repeating: "n", count: 256))], "name"),
                (["expires_at": "2001-01-01T00:00:00Z"], "expires_at"),
                (["expires_at": "next tuesday"], "expires_at"),
                (["scope": "superuser"], "scope"),
                (["environment": "staging"], "environment"),
            ]
            for (body, field) in cases {
                let response = try await client.post("/api/api-keys", token: owner.token, json: body)
                #expect(response.status == .unprocessableContent, "\(body.jsonString): \(response.text)")
                #expect(response.json["success"] == false)
                #expect(response.json["code"] == "VALIDATION_FAILED")
                #expect(response.json["details"]?.arrayValue?.first?["field"]?.stringValue == field)
            }
            let unknownField = try await client.post("/api/api-keys", token: owner.token, json: ["nmae": "typo"])
            #expect(unknownField.status == .badRequest && unknownField.json["success"] == false)
            #expect(try await client.get("/api/api-keys", token: owner.token).json["api_keys"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("usage counts requests and errors per day; live keys' requests are in the audit log, test keys' are not")
    func usageAndAudit() async throws {
        // A frozen clock keeps all five requests in one UTC day, even when the test runs at midnight.
        let frozen = Date()
        try await TestServer.run(["usage.flush.millis": 20], clock: WallClock { frozen }) { client, _ in
            let owner = try await client.register()
            let live = try await client.createKey(owner.token, ["scope": "read_only"])
            let test = try await client.createKey(owner.token, ["scope": "read_only", "environment": "test"])
            let liveSecret = try #require(live["key"]?.stringValue)
            let testSecret = try #require(test["key"]?.stringValue)
            for _ in 0..<3 { #expect(try await client.get("/api/contacts", token: liveSecret).status == .ok) }
            #expect(try await client.post("/api/contacts", token: liveSecret, json: ["name": "x"]).status == .forbidden)
            #expect(try await client.get("/api/contacts?limit=500", token: liveSecret).status == .badRequest)
            #expect(try await client.get("/api/contacts", token: testSecret).status == .ok)

            let liveID = try #require(live["id"]?.stringValue)
            let usage = try await client.usage(of: liveID, token: owner.token, reaching: 5)
            #expect(usage["success"] == true)
            #expect(usage["usage"]?["total_requests"] == 5)
            #expect(usage["usage"]?["total_errors"] == 2)
            #expect(usage["usage"]?["error_rate"] == .double(0.4))
            #expect(usage["usage"]?["last_used_at"]?.stringValue != nil)
            let days = try #require(usage["usage"]?["days"]?.arrayValue)
            #expect(days.count == 30)
            #expect(days.last?["requests"] == 5 && days.last?["errors"] == 2)
            #expect(try await client.get("/api/api-keys/\(liveID)", token: owner.token).json["api_key"]?["last_used_at"] != .null)

            let audit = try await client.get("/api/api-keys/\(liveID)/audit?limit=2", token: owner.token)
            #expect(audit.json["meta"] == ["total": 5, "page": 1, "limit": 2, "total_pages": 3])
            let newest = try #require(audit.json["audit"]?.arrayValue?.first)
            #expect(newest["method"] == "GET" && newest["path"] == "/api/contacts" && newest["status"] == 400)
            #expect(newest["ip"]?.stringValue?.isEmpty == false && newest["request_id"]?.stringValue?.hasPrefix("req_") == true)
            #expect(newest["latency_ms"]?.intValue != nil && newest["occurred_at"]?.stringValue != nil)

            let testID = try #require(test["id"]?.stringValue)
            let testUsage = try await client.usage(of: testID, token: owner.token, reaching: 1)
            #expect(testUsage["usage"]?["total_requests"] == 1)
            #expect(try await client.get("/api/api-keys/\(testID)/audit", token: owner.token).json["meta"]?["total"] == 0)

            let range = try await client.get("/api/api-keys/\(liveID)/usage?from=2026-01-10&to=2026-01-01", token: owner.token)
            #expect(range.status == .badRequest && range.json["success"] == false)
        }
    }
}
