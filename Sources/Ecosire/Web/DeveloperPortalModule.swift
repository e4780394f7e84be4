import Foundation
import HTTPTypes
import Hummingbird

/// The developer portal at `/developers`: the quick start, the six common operations in Swift,
/// TypeScript and curl (the code the tests run), the webhook event explorer (example payloads; for
/// a signed-in user a signed cURL command for one of their endpoints and the signature verifier),
/// the rate-limit table from this server's configuration and the error reference from the codes
/// the server produces. Readable without JavaScript; the forms post without it.
struct DeveloperPortalModule: Module {
    let platform: Platform
    let pages: PageRenderer

    struct VerifyForm: Decodable, DashboardForm {
        var csrf: String?
        var event: String?
        var payload: String?
        var headers: String?
        var secret: String?
    }

    func register(on api: APIRouter) {
        let sessions = DashboardSessions(platform: platform, api: api)
        let site = DashboardPages(pages: pages, sessions: sessions, api: api)
        api.add(
            Operation(
                .get, "/developers", id: "developerPortal", tag: "Docs", summary: "Developer portal", access: .open,
                query: [
                    QueryParameter("event", .string(maxLength: 100), "The event type the explorer shows"),
                    QueryParameter("endpoint", .uuid, "The endpoint to sign a cURL command for"),
                ],
                responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { input in
            let visit = await sessions.visit(input.request, input.context)
            var context = staticContext()
            context.merge(
                try await explorer(input, api: api, visit: visit, event: input.query["event"], endpoint: input.query["endpoint"]),
                uniquingKeysWith: { _, new in new })
            let page = try pages.page("developers", context)
            return visit?.finish(page) ?? page
        }
        site.post("/developers/verify", id: "developerPortalVerify", summary: "Check a webhook signature") { visit, input in
            let form = try await site.form(VerifyForm.self, visit)
            var context = staticContext()
            context.merge(
                try await explorer(input, api: api, visit: visit, event: form.event, endpoint: nil), uniquingKeysWith: { _, new in new })
            let headers = Self.headerLines(form.headers ?? "")
            var verification: [String: Any] = ["payload": form.payload ?? "", "headers": form.headers ?? ""]
            do {
                let verdict = try await visit.call(
                    "verifyWebhookSignature",
                    body: [
                        "payload": .string(form.payload ?? ""), "headers": .object(headers),
                        "secret": .string(form.secret?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""),
                    ])
                verification["result"] = verdict.templateValue
            } catch let error as APIError where error.status.code < 500 {
                verification["error"] = DashboardPages.formError(error)
            }
            context["verification"] = verification
            return try pages.page("developers", context)
        }
        api.add(
            Operation(
                .get, "/static/{name}", id: "pageAsset", tag: "Docs", summary: "The pages' stylesheet and script", access: .open,
                responses: [ResponseSpec(200, "CSS or JavaScript")], undocumented: true)
        ) { input in
            guard let response = PageRenderer.asset(input.path("name")) else {
                throw APIError(.notFound, code: "NOT_FOUND", message: "No such file")
            }
            return response
        }
    }

    /// `Name: value` lines, as copied from a request log, as a header object.
    static func headerLines(_ text: String) -> JSONObject {
        var headers = JSONObject()
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            if !name.isEmpty { headers[name] = .string(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)) }
        }
        return headers
    }

    /// The event explorer: every type, the chosen one's example delivery body and, for a signed-in
    /// caller, their endpoints and a signed cURL command for the chosen one.
    private func explorer(
        _ input: APIInput, api: APIRouter, visit: DashboardVisit?, event: String?, endpoint: String?
    ) async throws -> [String: Any] {
        let catalog = try await api.invokeAll("listWebhookEventTypes", as: nil, request: input.request, context: input.context)
        let selected = catalog.first { $0["type"]?.stringValue == event } ?? catalog.first ?? .null
        let selectedType = selected["type"]?.stringValue ?? ""
        var context: [String: Any] = [
            "eventTypes": catalog.map { type -> [String: Any] in
                let name = type["type"]?.stringValue ?? ""
                return ["type": name, "selected": name == selectedType]
            },
            "event": [
                "type": selectedType, "description": selected["description"]?.stringValue ?? "",
                "trigger": selected["trigger"]?.stringValue ?? "",
                "example": (selected["example"] ?? .null).prettyString(),
            ] as [String: Any],
        ]
        guard let visit else { return context }
        context["signedIn"] = ["csrf": visit.csrf]
        let endpoints = try await visit.call("listWebhookEndpoints", query: ["limit": "100"])["data"]?.arrayValue ?? []
        context["endpoints"] = endpoints.map { item -> [String: Any] in
            ["id": item["id"]?.stringValue ?? "", "url": item["url"]?.stringValue ?? "", "selected": item["id"]?.stringValue == endpoint]
        }
        context["hasEndpoints"] = !endpoints.isEmpty
        if let endpoint {
            do {
                let curl = try await visit.call("getWebhookCurl", path: ["type": selectedType], query: ["endpointId": endpoint])
                context["curl"] = curl.templateValue
            } catch let error as APIError where error.status.code < 500 {
                context["curlError"] = error.message
            }
        }
        return context
    }

    static func subjectName(_ subject: RateLimitClass.Subject) -> String {
        switch subject {
        case .caller: "caller (API key, else user)"
        case .clientIP: "client IP"
        case .email: "account email"
        }
    }

    /// The parts that depend only on the server's code and configuration.
    func staticContext() -> [String: Any] {
        let settings = platform.config.rateLimits
        return [
            "baseURL": platform.config.publicURL,
            "snippets": SDKSnippet.all.map { snippet -> [String: Any] in
                [
                    "number": snippet.number, "name": snippet.name, "title": snippet.title, "swift": snippet.swift,
                    "typescript": snippet.typescript, "curl": snippet.curl,
                ]
            },
            "windowSeconds": settings.windowSeconds,
            "rateLimits": RateLimitClass.all.map { rateClass -> [String: Any] in
                [
                    "routes": rateClass.routes, "limit": settings.limit(for: rateClass),
                    "subject": Self.subjectName(rateClass.subject),
                ]
            },
            "errors": ErrorCatalog.entries.map { entry -> [String: Any] in
                ["code": entry.code, "status": entry.status, "meaning": entry.meaning]
            },
        ]
    }
}
