import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Testing

/// The dashboard's server side over HTTP: the cookie session, the form token, tenancy and the
/// session refresh. The pages themselves are driven in Chromium by scripts/browser_checks.py.
@Suite("Dashboard")
struct DashboardTests {
    /// Signs in through the form; returns the `Cookie` header for later requests and the form token.
    static func signIn(_ client: TestClientSession, email: String, next: String = "/dashboard/webhooks") async throws -> (
        cookie: String, csrf: String, response: APIResponse
    ) {
        let response = try await client.request(
            .post, "/dashboard/login", body: "email=\(email.formEncoded)&password=password123&next=\(next.formEncoded)",
            headers: ["Content-Type": "application/x-www-form-urlencoded"])
        let cookies = response.cookies
        let cookie = ["ecosire_auth", "ecosire_refresh", "ecosire_csrf"].map { "\($0)=\(cookies[$0] ?? "")" }.joined(separator: "; ")
        return (cookie, cookies["ecosire_csrf"] ?? "", response)
    }

    static func form(_ client: TestClientSession, _ uri: String, cookie: String, _ fields: String) async throws -> APIResponse {
        try await client.request(
            .post, uri, body: fields, headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie])
    }

    @Test("signing in sets the HttpOnly session cookies and only follows local next links; pages have a strict CSP and no inline script")
    func signIn() async throws {
        try await TestServer.run { client, _ in
            let user = try await client.register()
            let page = try await client.get("/dashboard/api-keys")
            #expect(page.status == .seeOther)
            #expect(page.header("Location") == "/dashboard/login?next=/dashboard/api-keys")

            let wrong = try await client.request(
                .post, "/dashboard/login", body: "email=\(user.email.formEncoded)&password=nope",
                headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Invalid email or password"))
            #expect(wrong.cookies["ecosire_auth"] == nil)

            let session = try await Self.signIn(client, email: user.email)
            #expect(session.response.status == .seeOther)
            #expect(session.response.header("Location") == "/dashboard/webhooks")
            let setCookies = session.response.headers[values: .setCookie]
            #expect(setCookies.contains { $0.hasPrefix("ecosire_auth=") && $0.contains("HttpOnly") })
            #expect(setCookies.contains { $0.hasPrefix("ecosire_refresh=") && $0.contains("HttpOnly") })

            for hostile in ["https://evil.example/", "//evil.example/dashboard", "/dashboard/../\\evil"] {
                let redirected = try await Self.signIn(client, email: user.email, next: hostile)
                #expect(redirected.response.header("Location") == "/dashboard/api-keys", "next=\(hostile)")
            }

            for path in ["/dashboard/api-keys", "/dashboard/webhooks", "/dashboard/licenses", "/developers"] {
                let html = try await client.get(path, headers: ["Cookie": session.cookie])
                #expect(html.status == .ok, "\(path): \(html.text.prefix(300))")
                #expect(html.contentType == "text/html; charset=utf-8")
                let policy = html.header("Content-Security-Policy") ?? ""
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "\(path): \(policy)")
                #expect(!html.text.contains("<script>") && !html.text.contains(" style=\""), "\(path) has inline script or style")
                #expect(html.header("Cache-Control") == "no-store")
            }
        }
    }

    @Test("a form without the session's token changes nothing (403)")
    func formToken() async throws {
        try await TestServer.run { client, _ in
            let user = try await client.register()
            let session = try await Self.signIn(client, email: user.email)
            for fields in ["name=Forged&scope=admin", "csrf=forged&name=Forged&scope=admin"] {
                let forged = try await Self.form(client, "/dashboard/api-keys", cookie: session.cookie, fields)
                #expect(forged.status == .forbidden, "\(fields): \(forged.status)")
            }
            #expect(try await client.get("/api/api-keys", token: user.token).json["api_keys"]?.arrayValue?.count == 0)

            let created = try await Self.form(
                client, "/dashboard/api-keys", cookie: session.cookie, "csrf=\(session.csrf)&name=Mine&scope=read_only&environment=test")
            #expect(created.status == .created)
            let keys = try await client.get("/api/api-keys", token: user.token).json["api_keys"]?.arrayValue ?? []
            #expect(keys.count == 1)
            #expect(keys.first?["scope"] == "read_only" && keys.first?["environment"] == "test")
            let secret = keys.first?["prefix"]?.stringValue ?? "-"
            #expect(created.text.contains("id=\"secret-value\"") && created.text.contains(secret))

            let invalid = try await Self.form(client, "/dashboard/api-keys", cookie: session.cookie, "csrf=\(session.csrf)&scope=owner")
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains("<code>scope</code>: Must be one of"), "\(invalid.text.prefix(2000))")
        }
    }

    @Test("another organization's key or endpoint is a 404 page, and its forms change nothing")
    func tenancy() async throws {
        try await TestServer.run(["webhook.allow.private.urls": true]) { client, _ in
            let owner = try await client.register()
            let key = try await client.post("/api/api-keys", token: owner.token, json: ["name": "Owner's"]).json["api_key"] ?? .null
            let keyID = key["id"]?.stringValue ?? ""
            let endpoint = try await client.post(
                "/api/webhooks/endpoints", token: owner.token, json: ["url": "http://127.0.0.1:9/hook", "events": ["*"]]
            ).json
            let endpointID = endpoint["id"]?.stringValue ?? ""

            let intruder = try await client.register()
            let session = try await Self.signIn(client, email: intruder.email)
            for path in ["/dashboard/api-keys/\(keyID)", "/dashboard/api-keys/\(keyID)/revoke", "/dashboard/webhooks/\(endpointID)"] {
                let page = try await client.get(path, headers: ["Cookie": session.cookie])
                #expect(page.status == .notFound, "\(path): \(page.status)")
                #expect(page.text.contains("404 Not Found"))
            }
            let revoke = try await Self.form(client, "/dashboard/api-keys/\(keyID)/revoke", cookie: session.cookie, "csrf=\(session.csrf)")
            #expect(revoke.status == .notFound)
            let disable = try await Self.form(
                client, "/dashboard/webhooks/\(endpointID)/status", cookie: session.cookie, "csrf=\(session.csrf)&active=false")
            #expect(disable.status == .notFound)

            let secret = key["key"]?.stringValue ?? ""
            #expect(try await client.get("/api/contacts", token: secret).status == .ok)
            #expect(try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json["active"] == true)
        }
    }

    @Test("an expired access cookie is renewed from the refresh cookie on the next page; a used refresh token signs out")
    func sessionRefresh() async throws {
        try await TestServer.run(["access.token.ttl": 1]) { client, _ in
            let user = try await client.register()
            let session = try await Self.signIn(client, email: user.email)
            try await Task.sleep(for: .milliseconds(2100))

            let page = try await client.get("/dashboard/api-keys", headers: ["Cookie": session.cookie])
            #expect(page.status == .ok, "\(page.status) \(page.header("Location") ?? "")")
            #expect(page.text.contains(user.email))
            let renewed = page.cookies
            #expect(renewed["ecosire_auth"].map { !$0.isEmpty } == true)
            let refresh = try #require(renewed["ecosire_refresh"])
            #expect(!refresh.isEmpty && !session.cookie.contains(refresh))
            #expect(renewed["ecosire_csrf"].map { page.text.contains("value=\"\($0)\"") } == true)

            // The old refresh token was used by that renewal: presenting it again revokes the session.
            let replay = try await client.get("/dashboard/api-keys", headers: ["Cookie": session.cookie])
            #expect(replay.status == .seeOther)
            #expect(replay.header("Location")?.hasPrefix("/dashboard/login") == true)
        }
    }
}

extension String {
    /// Percent-encoded for an `application/x-www-form-urlencoded` body.
    var formEncoded: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}
