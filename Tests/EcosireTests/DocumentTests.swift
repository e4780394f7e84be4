import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Testing

@Suite("OpenAPI document, docs and operations")
struct DocumentTests {
    /// The repository root (two levels above this file's folder).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("openapi/openapi.json is the current export of the served document")
    func exportIsCurrent() async throws {
        try await TestServer.run { client, _ in
            let served = try await client.get("/api/openapi.json")
            #expect(served.status == .ok)
            let exported = try String(contentsOf: Self.root.appendingPathComponent("openapi/openapi.json"), encoding: .utf8)
            #expect(
                exported.trimmingCharacters(in: .whitespacesAndNewlines) == served.text.trimmingCharacters(in: .whitespacesAndNewlines),
                "openapi/openapi.json is stale: run `swift run ecosire openapi --output openapi/openapi.json`"
            )
        }
    }

    @Test("the document decodes into OpenAPIKit and passes its validation")
    func documentValidates() async throws {
        let builder = try await buildOpenAPIDocument()
        #expect(throws: Never.self) { _ = try builder.document() }
    }

    @Test("the developer portal shows the tested SDK snippets, this server's limits and the error codes, under a strict CSP")
    func developerPortal() async throws {
        try await TestServer.run(["rate.limit.support": 7]) { client, _ in
            let page = try await client.get("/developers")
            #expect(page.status == .ok)
            #expect(page.contentType == "text/html; charset=utf-8")
            let policy = page.header("Content-Security-Policy") ?? ""
            #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "\(policy)")
            for title in [
                "Authenticate", "List contacts with paging", "Create an API key", "Validate and activate a license",
                "Create and verify a webhook endpoint", "Handle errors and rate limits",
            ] {
                #expect(page.text.contains(title), "\(title)")
            }
            // Code is escaped, not interpreted.
            #expect(page.text.contains("Promise&lt;Response&gt;"))
            #expect(page.text.contains("const session = await client.auth.login({ email, password });"))
            #expect(page.text.contains("<tr><td>POST /api/support</td><td>7</td><td>client IP</td></tr>"))
            #expect(page.text.contains("<tr id=\"error-VALIDATION_FAILED\"><td><code>VALIDATION_FAILED</code></td><td>422</td>"))
            let css = try await client.get("/static/site.css")
            #expect(css.status == .ok && css.contentType == "text/css; charset=utf-8")
        }
    }

    @Test("the document covers every route with ids, tags, problem responses and security")
    func documentCompleteness() async throws {
        try await TestServer.run { client, _ in
            let document = try await client.get("/api/openapi.json").json
            #expect(document["openapi"] == "3.0.3")
            let paths = try #require(document["paths"]?.objectValue)
            for path in [
                "/api/auth/login", "/api/auth/register", "/api/auth/refresh", "/api/auth/logout", "/api/users/me", "/api/contacts",
                "/api/contacts/{id}", "/api/contacts/merge", "/api/contacts/import", "/api/contacts/{id}/activity", "/api/health",
                "/api/health/ready",
            ] {
                #expect(paths[path] != nil, "\(path) missing")
            }
            var operationIDs: Set<String> = []
            for (_, item) in paths.members {
                for (_, operation) in item.objectValue?.members ?? [] {
                    let id = try #require(operation["operationId"]?.stringValue)
                    #expect(operationIDs.insert(id).inserted)
                    #expect(operation["responses"]?["500"] != nil, "\(id) lacks 500")
                    #expect(operation["tags"]?.arrayValue?.isEmpty == false)
                }
            }
            let schemes = document["components"]?["securitySchemes"]?.objectValue?.keys ?? []
            #expect(Set(schemes) == ["bearerAuth", "apiKeyAuth", "cookieAuth"])
            #expect(paths["/api/contacts"]?["get"]?["security"]?.arrayValue?.count == 3)
            #expect(paths["/api/auth/login"]?["post"]?["security"] == [])
            let yaml = try await client.get("/api/openapi.yaml")
            #expect(yaml.status == .ok && yaml.text.contains("openapi: 3.0.3"))
        }
    }

    @Test("the document declares every header the server sends or reads, who may call, and each error status's codes")
    func headersAccessAndErrorCodes() async throws {
        try await TestServer.run { client, _ in
            let document = try await client.get("/api/openapi.json").json
            let reference = try await client.get("/docs/errors").text
            let paths = try #require(document["paths"]?.objectValue)
            var checked = 0
            for (path, item) in paths.members {
                for (method, operation) in item.objectValue?.members ?? [] {
                    let id = operation["operationId"]?.stringValue ?? "\(method) \(path)"
                    let responses = operation["responses"]?.objectValue ?? JSONObject()
                    var errorStatuses: Set<String> = []
                    for (status, response) in responses.members {
                        // Problem responses (a readiness 503 with its own body is not one).
                        guard response["$ref"] == nil else {
                            errorStatuses.insert(status)
                            continue
                        }
                        let headers = response["headers"]?.objectValue?.keys.map { $0 } ?? []
                        #expect(headers.contains("X-API-Version") && headers.contains("X-Request-Id"), "\(id) \(status): \(headers)")
                        if status == "201" { #expect(headers.contains("Location"), "\(id): 201 without Location") }
                    }
                    // Every error status lists its codes, and every code is in the error reference.
                    let codes = operation["x-error-codes"]?.objectValue ?? JSONObject()
                    #expect(Set(codes.keys) == errorStatuses, "\(id): codes for \(codes.keys.sorted()), statuses \(errorStatuses.sorted())")
                    for (status, list) in codes.members {
                        #expect(list.arrayValue?.isEmpty == false, "\(id) \(status)")
                        for code in list.arrayValue ?? [] {
                            #expect(reference.contains("id=\"\(code.stringValue ?? "")\""), "\(id): \(code) is not in the error reference")
                        }
                    }
                    let open = operation["security"] == []
                    #expect((operation["x-required-role"] == nil) == open, "\(id)")
                    #expect((operation["x-required-scope"] == nil) == open, "\(id)")
                    let description = operation["description"]?.stringValue ?? ""
                    #expect(description.contains(open ? "No credentials needed." : "scope."), "\(id): \(description)")
                    let headerParameters = Set(
                        (operation["parameters"]?.arrayValue ?? []).filter { $0["in"] == "header" }.compactMap { $0["name"]?.stringValue })
                    if !open && !["get", "head"].contains(method) {
                        #expect(headerParameters.contains("X-CSRF-Token"), "\(id) lacks X-CSRF-Token")
                    }
                    checked += 1
                }
            }
            #expect(checked > 100)
            func operation(_ path: String, _ method: String) -> JSONValue { paths[path]?[method] ?? .null }
            let parameterNames = { (operation: JSONValue) in
                Set((operation["parameters"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
            }
            #expect(parameterNames(operation("/api/licenses/validate", "post")).contains("X-Ecosire-Signature"))
            #expect(parameterNames(operation("/api/billing/webhooks", "post")).contains("Stripe-Signature"))
            #expect(parameterNames(operation("/api/contacts", "post")).isSuperset(of: ["Idempotency-Key", "X-CSRF-Token"]))
            let activateConflicts = operation("/api/licenses/activate", "post")["x-error-codes"]?["409"]?.arrayValue ?? []
            #expect(activateConflicts.contains("ACTIVATION_LIMIT_REACHED") && !activateConflicts.contains("CONFLICT"))
            #expect(operation("/api/licenses/validate", "post")["x-error-codes"]?["401"] == ["INVALID_SIGNATURE"])
            #expect(operation("/api/orders/{id}/confirm", "post")["x-error-codes"]?["409"]?.arrayValue?.contains("INVALID_STATE") == true)
            #expect(operation("/api/contacts/{id}", "delete")["x-required-role"] == "member")
            #expect(operation("/api/contacts/{id}", "delete")["x-required-scope"] == "read_write")
            #expect(operation("/api/licenses/{id}/revoke", "post")["x-required-scope"] == "admin")
            #expect(operation("/api/auth/login", "post")["responses"]?["200"]?["headers"]?["Set-Cookie"] != nil)
            #expect(operation("/api/auth/login", "post")["responses"]?["200"]?["headers"]?["RateLimit-Policy"] != nil)
            let components = document["components"]?["responses"]
            #expect(components?["Unauthorized"]?["headers"]?["WWW-Authenticate"] != nil)
            #expect(components?["TooManyRequests"]?["headers"]?["Retry-After"] != nil)
            #expect(components?["TooManyRequests"]?["headers"]?["RateLimit"] != nil)
        }
    }

    @Test("Swagger UI and the error reference are served with a CSP and no inline script")
    func docsPages() async throws {
        try await TestServer.run { client, _ in
            let docs = try await client.get("/docs")
            #expect(docs.status == .ok && docs.contentType.hasPrefix("text/html"))
            #expect(docs.text.contains("swagger-ui-bundle.js") && docs.text.contains("/docs/init.js"))
            #expect(docs.text.contains("<script>") == false)
            #expect(docs.header("Content-Security-Policy")?.contains("unsafe-inline'; img") == false)
            #expect(try await client.get("/docs/init.js").text.contains("/api/openapi.json"))
            let errors = try await client.get("/docs/errors")
            #expect(errors.text.contains("id=\"VALIDATION_FAILED\""))
        }
    }

    @Test("health and readiness")
    func health() async throws {
        try await TestServer.run { client, _ in
            let health = try await client.get("/api/health")
            #expect(health.status == .ok && health.json["status"] == "ok")
            let ready = try await client.get("/api/health/ready")
            #expect(ready.status == .ok)
            #expect(ready.json["status"] == "ready" && ready.json["pendingMigrations"] == [])
            let metrics = try await client.get("/metrics")
            #expect(metrics.status == .ok && metrics.contentType.hasPrefix("text/plain"))
        }
    }
}
