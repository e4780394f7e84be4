import Configuration
import Crypto
import Ecosire
import Foundation
import HTTPTypes
import Testing

@Suite("Authentication")
struct AuthTests {
    @Test("register → login → me → refresh → old refresh rejected → logout, over bearer")
    func bearerLifecycle() async throws {
        try await TestServer.run { client, _ in
            let account = try await client.register(email: "ada@example.com", name: "Ada")
            let login = try await client.post("/api/auth/login", json: ["email": "ada@example.com", "password": "password123"])
            #expect(login.status == .ok)
            let token = try #require(login.json["token"]?.stringValue)
            let refresh = try #require(login.json["refreshToken"]?.stringValue)
            #expect(login.json["expiresIn"] == .int(900))
            #expect(login.json["user"]?["email"] == "ada@example.com")
            #expect(login.json["user"]?["role"] == "owner")
            #expect(login.json["user"]?["password"] == nil)

            let me = try await client.get("/api/users/me", token: token)
            #expect(me.status == .ok)
            #expect(me.json["id"]?.stringValue == account.userID)
            #expect(me.json["organization"]?["plan"] == "free")

            let rotated = try await client.post("/api/auth/refresh", json: ["refreshToken": .string(refresh)])
            #expect(rotated.status == .ok)
            let newRefresh = try #require(rotated.json["refreshToken"]?.stringValue)
            #expect(newRefresh != refresh)
            #expect(try await client.get("/api/users/me", token: try #require(rotated.json["token"]?.stringValue)).status == .ok)

            let reused = try await client.post("/api/auth/refresh", json: ["refreshToken": .string(refresh)])
            #expect(reused.status == .unauthorized)
            #expect(reused.json["code"] == "REFRESH_TOKEN_REUSED")
            // Reuse revoked the whole family, including the token issued by the rotation.
            #expect(try await client.post("/api/auth/refresh", json: ["refreshToken": .string(newRefresh)]).status == .unauthorized)

            let again = try await client.post("/api/auth/login", json: ["email": "ada@example.com", "password": "password123"])
            let lastRefresh = try #require(again.json["refreshToken"]?.stringValue)
            let logout = try await client.request(.post, "/api/auth/logout", json: ["refreshToken": .string(lastRefresh)])
            #expect(logout.status == .noContent)
            #expect(logout.cookies["ecosire_auth"] == "")
            #expect(try await client.post("/api/auth/refresh", json: ["refreshToken": .string(lastRefresh)]).status == .unauthorized)
        }
    }

    @Test("cookies authenticate; cookie writes need Origin or the CSRF token; refresh and logout by cookie")
    func cookieLifecycle() async throws {
        try await TestServer.run { client, _ in
            try await client.register(email: "cookie@example.com")
            let login = try await client.post("/api/auth/login", json: ["email": "cookie@example.com", "password": "password123"])
            let cookies = login.cookies
            let setCookie = login.headers[values: .setCookie].joined(separator: "\n")
            #expect(
                setCookie.contains("ecosire_auth=") && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax")
                    && setCookie.contains("Path=/"))
            let auth = try #require(cookies["ecosire_auth"])
            let refresh = try #require(cookies["ecosire_refresh"])
            let csrf = try #require(cookies["ecosire_csrf"])
            let jar = "ecosire_auth=\(auth); ecosire_refresh=\(refresh); ecosire_csrf=\(csrf)"

            let me = try await client.get("/api/users/me", headers: ["Cookie": jar])
            #expect(me.status == .ok)
            #expect(me.json["email"] == "cookie@example.com")

            let forged = try await client.request(
                .patch, "/api/users/me", json: ["name": "Mallory"], headers: ["Cookie": jar, "Origin": "https://evil.example"])
            #expect(forged.status == .forbidden)
            #expect(forged.json["code"] == "CSRF_FAILED")
            let noOrigin = try await client.request(.patch, "/api/users/me", json: ["name": "Mallory"], headers: ["Cookie": jar])
            #expect(noOrigin.status == .forbidden)

            let withToken = try await client.request(
                .patch, "/api/users/me", json: ["name": "Cookie Monster"], headers: ["Cookie": jar, "X-CSRF-Token": csrf])
            #expect(withToken.status == .ok)
            #expect(withToken.json["name"] == "Cookie Monster")
            let sameOrigin = try await client.request(
                .patch, "/api/users/me", json: ["name": "Same Origin"], headers: ["Cookie": jar, "Origin": "http://localhost"])
            #expect(sameOrigin.status == .ok)

            let rotated = try await client.request(.post, "/api/auth/refresh", headers: ["Cookie": "ecosire_refresh=\(refresh)"])
            #expect(rotated.status == .ok)
            let newAuth = try #require(rotated.cookies["ecosire_auth"])
            let newRefresh = try #require(rotated.cookies["ecosire_refresh"])
            #expect(
                try await client.request(.post, "/api/auth/refresh", headers: ["Cookie": "ecosire_refresh=\(refresh)"]).status
                    == .unauthorized)

            let logout = try await client.request(
                .post, "/api/auth/logout", headers: ["Cookie": "ecosire_auth=\(newAuth); ecosire_refresh=\(newRefresh)"])
            #expect(logout.status == .noContent)
            #expect(logout.headers[values: .setCookie].allSatisfy { $0.contains("Max-Age=0") })
            #expect(
                try await client.request(.post, "/api/auth/refresh", headers: ["Cookie": "ecosire_refresh=\(newRefresh)"]).status
                    == .unauthorized)
        }
    }

    @Test("unknown email and wrong password give the same 401; missing credentials give 401 with a challenge")
    func uniformLoginFailure() async throws {
        try await TestServer.run { client, _ in
            try await client.register(email: "known@example.com")
            let wrongPassword = try await client.post("/api/auth/login", json: ["email": "known@example.com", "password": "nope-nope"])
            let unknownEmail = try await client.post("/api/auth/login", json: ["email": "unknown@example.com", "password": "nope-nope"])
            #expect(wrongPassword.status == .unauthorized)
            #expect(unknownEmail.status == .unauthorized)
            #expect(wrongPassword.json["code"] == unknownEmail.json["code"])
            #expect(wrongPassword.json["message"] == unknownEmail.json["message"])
            #expect(wrongPassword.contentType == "application/problem+json")

            let anonymous = try await client.get("/api/users/me")
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(try await client.get("/api/users/me", token: "not.a.jwt").status == .unauthorized)
        }
    }

    @Test("login is limited per IP and email with the rate-limit headers")
    func loginRateLimit() async throws {
        // A fixed clock keeps the four attempts inside one window even at a minute boundary.
        let frozen = Date()
        try await TestServer.run(["login.limit.per.minute": 3], clock: WallClock { frozen }) { client, _ in
            for attempt in 1...3 {
                let response = try await client.post(
                    "/api/auth/login", json: ["email": "victim@example.com", "password": "guess-\(attempt)"])
                #expect(response.status == .unauthorized)
                #expect(response.header("X-RateLimit-Limit") == "3")
                #expect(response.header("X-RateLimit-Remaining") == String(3 - attempt))
            }
            let blocked = try await client.post("/api/auth/login", json: ["email": "victim@example.com", "password": "guess-4"])
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.json["code"] == "RATE_LIMITED")
            #expect(Int(blocked.header("Retry-After") ?? "") ?? 0 >= 1)
            #expect(blocked.header("RateLimit-Policy") == "3;w=60")
            #expect(blocked.header("RateLimit") != nil && blocked.header("X-RateLimit-Reset") != nil)
            // Another email from the same IP has its own budget.
            #expect(
                try await client.post("/api/auth/login", json: ["email": "other@example.com", "password": "x"]).status == .unauthorized)
        }
    }

    @Test("access tokens are EdDSA JWTs whose kid and signature check out against the JWKS")
    func jwksVerifiesTokens() async throws {
        try await TestServer.run { client, _ in
            let account = try await client.register()
            let jwks = try await client.get("/.well-known/jwks.json")
            let key = try #require(jwks.json["keys"]?.arrayValue?.first)
            #expect(key["kty"] == "OKP" && key["crv"] == "Ed25519" && key["alg"] == "EdDSA")
            let parts = account.token.split(separator: ".").map(String.init)
            #expect(parts.count == 3)
            let header = try JSONValue.parse(try #require(Base64URL.decode(parts[0])))
            #expect(header["kid"] == key["kid"])
            #expect(header["alg"] == "EdDSA")
            let x = try #require(key["x"]?.stringValue)
            let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: try #require(Base64URL.decode(x)))
            let signature = try #require(Base64URL.decode(parts[2]))
            #expect(publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
            #expect(!publicKey.isValidSignature(signature, for: Data("\(parts[0]).e30".utf8)))
        }
    }

    @Test("password change needs the current password and ends other sessions")
    func passwordChange() async throws {
        try await TestServer.run { client, _ in
            let account = try await client.register(email: "pw@example.com")
            let missing = try await client.patch("/api/users/me", token: account.token, json: ["password": "new-password-1"])
            #expect(missing.status == .unprocessableContent)
            #expect(missing.json["details"]?.arrayValue?.first?["field"] == "currentPassword")
            let wrong = try await client.patch(
                "/api/users/me", token: account.token, json: ["password": "new-password-1", "currentPassword": "wrong-one"])
            #expect(wrong.status == .unprocessableContent)
            let changed = try await client.patch(
                "/api/users/me", token: account.token, json: ["password": "new-password-1", "currentPassword": "password123"])
            #expect(changed.status == .ok)
            #expect(
                try await client.post("/api/auth/refresh", json: ["refreshToken": .string(account.refreshToken)]).status == .unauthorized)
            #expect(
                try await client.post("/api/auth/login", json: ["email": "pw@example.com", "password": "password123"]).status
                    == .unauthorized)
            #expect(
                try await client.post("/api/auth/login", json: ["email": "pw@example.com", "password": "new-password-1"]).status == .ok)
            let duplicate = try await client.post(
                "/api/auth/register", json: ["email": "pw@example.com", "password": "password123", "name": "Again"])
            #expect(duplicate.status == .conflict)
        }
    }
}

enum Base64URL {
    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
