import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// The OpenAPI document (JSON and YAML), Swagger UI at `/docs` (pointing at the built-in reference
/// when its assets cannot load), and the error reference that every problem's `type` links to.
struct DocsModule: Module {
    let platform: Platform
    let api: APIRouter
    let cache: DocumentCache

    static let swaggerVersion = "5.17.14"
    static let cdn = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@\(swaggerVersion)"
    static let assets = ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js", "favicon-32x32.png"]

    func register(on api: APIRouter) {
        let document = Schema.object([], additional: .anyValue).describe("An OpenAPI 3.0 document").named("OpenAPIDocument")
        api.add(
            Operation(
                .get, "/api/openapi.json", id: "getOpenAPIJSON", tag: "Docs", summary: "The OpenAPI document (JSON)", access: .open,
                responses: [ResponseSpec(200, "OpenAPI 3.0 document", schema: document)])
        ) { _ in
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: try await cache.json(self.api))))
            response.headers[.contentType] = "application/json; charset=utf-8"
            return response
        }
        api.add(
            Operation(
                .get, "/api/openapi.yaml", id: "getOpenAPIYAML", tag: "Docs", summary: "The OpenAPI document (YAML)", access: .open,
                responses: [ResponseSpec(200, "OpenAPI 3.0 document", schema: .anyValue, mediaType: "application/yaml")])
        ) { _ in
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: try await cache.yaml(self.api))))
            response.headers[.contentType] = "application/yaml; charset=utf-8"
            return response
        }
        let local = platform.config.swaggerUIDirectory
        let assetBase = local == nil ? Self.cdn : "/docs/assets"
        let cdnHost = local == nil ? " https://cdn.jsdelivr.net" : ""
        api.add(
            Operation(
                .get, "/docs", id: "swaggerUI", tag: "Docs", summary: "Swagger UI", access: .open, responses: [ResponseSpec(200, "HTML")],
                undocumented: true)
        ) { _ in
            let html = """
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Ecosire API — Swagger UI</title>
                <link rel="stylesheet" href="\(assetBase)/swagger-ui.css"></head>
                <body><div id="swagger-ui"><p id="swagger-fallback">Loading the API explorer… If it does not appear (its assets come from \(local == nil ? "a CDN" : "this server")), the <a href="/docs/reference">API reference built into this server</a> needs nothing else; the raw document is at <a href="/api/openapi.json">/api/openapi.json</a>.</p></div>
                <script src="\(assetBase)/swagger-ui-bundle.js"></script>
                <script src="/docs/init.js"></script></body></html>
                """
            return Self.page(
                html,
                csp:
                    "default-src 'self'; script-src 'self'\(cdnHost); style-src 'self' 'unsafe-inline'\(cdnHost); img-src 'self' data:\(cdnHost); connect-src 'self'; frame-ancestors 'none'"
            )
        }
        api.add(
            Operation(
                .get, "/docs/init.js", id: "swaggerInit", tag: "Docs", summary: "Swagger UI start-up", access: .open,
                responses: [ResponseSpec(200, "JavaScript")], undocumented: true)
        ) { _ in
            let script = """
                window.addEventListener('load', function () {
                  if (typeof SwaggerUIBundle === 'undefined') {
                    // The bundle did not load (no internet): point at the built-in reference.
                    document.getElementById('swagger-fallback').textContent = '';
                    var link = document.createElement('a');
                    link.href = '/docs/reference';
                    link.textContent = 'Open the API reference built into this server';
                    var note = document.getElementById('swagger-fallback');
                    note.append('Swagger UI could not load its assets. ', link, '.');
                    return;
                  }
                  window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: true, withCredentials: true });
                });
                """
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: script)))
            response.headers[.contentType] = "text/javascript; charset=utf-8"
            return response
        }
        api.add(
            Operation(
                .get, "/docs/assets/{file}", id: "swaggerAsset", tag: "Docs", summary: "Swagger UI assets", access: .open,
                responses: [ResponseSpec(200, "Asset")], undocumented: true)
        ) { input in
            let name = input.path("file")
            guard let local, Self.assets.contains(name),
                let data = FileManager.default.contents(atPath: (local as NSString).appendingPathComponent(name))
            else { throw APIError.notFound("No such asset") }
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: data)))
            response.headers[.contentType] =
                name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : name.hasSuffix(".css") ? "text/css; charset=utf-8" : "image/png"
            response.headers[.cacheControl] = "public, max-age=86400"
            return response
        }
        api.add(
            Operation(
                .get, "/docs/errors", id: "errorReference", tag: "Docs", summary: "Error reference", access: .open,
                responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { _ in
            let rows = ErrorCatalog.entries.map { entry in
                "<tr id=\"\(entry.code)\"><td><code>\(entry.code)</code></td><td>\(entry.status)</td><td>\(entry.meaning)</td></tr>"
            }.joined(separator: "\n")
            let html = """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Ecosire API errors</title></head><body>
                <h1>Error reference</h1>
                <p>Every error is <code>application/problem+json</code> with <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, <code>instance</code>, <code>code</code>, <code>statusCode</code>, <code>error</code>, <code>message</code>, optional <code>details</code> and <code>requestId</code>.</p>
                <table><thead><tr><th>Code</th><th>Status</th><th>Meaning</th></tr></thead><tbody>
                \(rows)
                </tbody></table></body></html>
                """
            return Self.page(html, csp: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        }
    }

    static func page(_ html: String, csp: String) -> Response {
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: html)))
        response.headers[.contentType] = "text/html; charset=utf-8"
        response.headers[.contentSecurityPolicy] = csp
        return response
    }
}

/// Every error code the platform produces, for the error reference.
enum ErrorCatalog {
    struct Entry {
        let code: String
        let status: Int
        let meaning: String
    }

    /// The status an error code is answered with, if the reference lists it.
    static func status(of code: String) -> Int? { byCode[code] }

    private static let byCode: [String: Int] = Dictionary(entries.map { ($0.code, $0.status) }) { first, _ in first }

    static let entries: [Entry] = [
        Entry(
            code: "BAD_REQUEST", status: 400, meaning: "Malformed JSON, wrong types, unknown fields or query parameters; details name them"),
        Entry(code: "UNAUTHORIZED", status: 401, meaning: "Missing or invalid credentials"),
        Entry(code: "INVALID_CREDENTIALS", status: 401, meaning: "Email or password wrong (never says which)"),
        Entry(code: "API_KEY_REVOKED", status: 401, meaning: "The API key was revoked"),
        Entry(code: "API_KEY_EXPIRED", status: 401, meaning: "The API key is past its expiry"),
        Entry(code: "REFRESH_TOKEN_REUSED", status: 401, meaning: "A used refresh token was presented; the session was revoked"),
        Entry(code: "FORBIDDEN", status: 403, meaning: "Authenticated but your role or key scope does not allow this"),
        Entry(code: "CSRF_FAILED", status: 403, meaning: "Cookie-authenticated write without a matching Origin or X-CSRF-Token"),
        Entry(code: "NOT_FOUND", status: 404, meaning: "No such route, or no such record in your organization"),
        Entry(code: "METHOD_NOT_ALLOWED", status: 405, meaning: "The path exists with other methods (see Allow)"),
        Entry(code: "CONFLICT", status: 409, meaning: "A unique value is already in use"),
        Entry(
            code: "INVALID_STATE", status: 409, meaning: "A workflow action not allowed from the record's status (currentStatus names it)"),
        Entry(
            code: "INVALID_SIGNATURE", status: 401,
            meaning: "A Stripe or license request signature is missing, wrong or outside its time window"),
        Entry(code: "LICENSE_NOT_FOUND", status: 404, meaning: "License not found"),
        Entry(code: "LICENSE_EXPIRED", status: 403, meaning: "License expired"),
        Entry(code: "LICENSE_REVOKED", status: 403, meaning: "License revoked"),
        Entry(code: "LICENSE_SUSPENDED", status: 403, meaning: "License suspended"),
        Entry(code: "ACTIVATION_LIMIT_REACHED", status: 409, meaning: "Activation limit reached"),
        Entry(code: "ACTIVATION_NOT_FOUND", status: 404, meaning: "The domain holds no activation of the license"),
        Entry(code: "INVALID_TOKEN", status: 404, meaning: "A newsletter confirmation link is unknown, expired or already used"),
        Entry(code: "IDEMPOTENCY_KEY_IN_USE", status: 409, meaning: "A request with this Idempotency-Key is still running"),
        Entry(code: "ENDPOINT_DISABLED", status: 409, meaning: "The webhook endpoint is disabled; set active to true first"),
        Entry(code: "DELIVERY_IN_FLIGHT", status: 409, meaning: "An attempt of this webhook delivery is in flight"),
        Entry(
            code: "SECRET_UNREADABLE", status: 409,
            meaning: "The endpoint's stored secret cannot be decrypted with this SECRETS_KEY; rotate it"),
        Entry(code: "LICENSE_REQUIRED", status: 403, meaning: "Product files need a valid license of the product"),
        Entry(code: "LICENSE_UPDATES_EXPIRED", status: 403, meaning: "The file was released after the license's updates period"),
        Entry(code: "PAYLOAD_TOO_LARGE", status: 413, meaning: "The body is over 1 MiB"),
        Entry(code: "UNSUPPORTED_MEDIA_TYPE", status: 415, meaning: "The Content-Type is not the one the operation takes"),
        Entry(code: "VALIDATION_FAILED", status: 422, meaning: "Well-formed but invalid; details list each field and rule"),
        Entry(code: "IDEMPOTENCY_KEY_REUSED", status: 422, meaning: "The Idempotency-Key was used with a different request"),
        Entry(code: "RATE_LIMITED", status: 429, meaning: "Too many requests; see Retry-After"),
        Entry(code: "QUOTA_EXCEEDED", status: 429, meaning: "The organization's daily API quota is used up; see Retry-After"),
        Entry(code: "PAYMENT_PROVIDER_ERROR", status: 502, meaning: "Stripe refused the request or could not be reached"),
        Entry(code: "BILLING_NOT_CONFIGURED", status: 503, meaning: "STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET is not set"),
        Entry(code: "NOT_CONFIGURED", status: 503, meaning: "A setting this operation needs is missing (such as the site organization)"),
        Entry(
            code: "DATABASE_UNAVAILABLE", status: 503,
            meaning: "The database could not be reached in time; nothing was done. Retry after Retry-After (with the same Idempotency-Key)"),
        Entry(code: "INTERNAL", status: 500, meaning: "Unexpected error; quote the requestId"),
    ]
}
