import Foundation
import HTTPTypes
import Hummingbird

/// Dashboard → API keys: the list, creation and rotation (the secret shown once), revocation
/// after a confirmation, and each key's usage chart and audit log.
struct DashboardAPIKeyPages: Sendable {
    let site: DashboardPages
    let clock: WallClock

    struct CreateForm: Decodable, DashboardForm {
        var csrf: String?
        var name: String?
        var scope: String?
        var environment: String?
        /// A date (`YYYY-MM-DD`) from the date picker; the key expires at the end of that UTC day.
        var expires_at: String?
    }

    func register() {
        site.get("/dashboard/api-keys", id: "dashboardApiKeys", summary: "API keys") { visit, _ in
            try await list(visit)
        }
        site.post("/dashboard/api-keys", id: "dashboardCreateApiKey", summary: "Create an API key") { visit, _ in
            let form = try await site.form(CreateForm.self, visit)
            var body: JSONObject = [:]
            if let name = HTMLForm.text(form.name) { body["name"] = .string(name) }
            if let scope = HTMLForm.text(form.scope) { body["scope"] = .string(scope) }
            if let environment = HTMLForm.text(form.environment) { body["environment"] = .string(environment) }
            if let expiry = HTMLForm.text(form.expires_at) {
                body["expires_at"] = .string(expiry.count == 10 ? expiry + "T23:59:59Z" : expiry)
            }
            do {
                let created = try await visit.call("createApiKey", body: .object(body))
                return try await list(visit, issued: created["api_key"], status: .created)
            } catch let error as APIError where error.status.code < 500 {
                return try await list(visit, formError: error, status: error.status)
            }
        }
        site.post("/dashboard/api-keys/{id}/rotate", id: "dashboardRotateApiKey", summary: "Rotate an API key") { visit, input in
            _ = try await site.form(TokenForm.self, visit)
            let rotated = try await visit.call("rotateApiKey", path: ["id": input.path("id")])
            return try await list(visit, issued: rotated["api_key"], rotated: true)
        }
        site.get("/dashboard/api-keys/{id}/revoke", id: "dashboardConfirmRevokeApiKey", summary: "Confirm revoking an API key") {
            visit, input in
            let key = try await visit.call("getApiKey", path: ["id": input.path("id")])
            return try await site.render(
                "api-key-revoke", visit, ["key": PageFormat.withTimes(key["api_key"] ?? .null, ["created_at", "last_used_at"])],
                section: "keys")
        }
        site.post("/dashboard/api-keys/{id}/revoke", id: "dashboardRevokeApiKey", summary: "Revoke an API key") { visit, input in
            _ = try await site.form(TokenForm.self, visit)
            _ = try await visit.call("revokeApiKey", path: ["id": input.path("id")])
            return .seeOther("/dashboard/api-keys?notice=revoked")
        }
        site.get(
            "/dashboard/api-keys/{id}", id: "dashboardApiKeyUsage", summary: "Usage and audit log of an API key",
            query: [QueryParameter("page", .integer(minimum: 1, maximum: 1_000_000), "Audit log page")]
        ) { visit, input in
            try await usage(visit, id: input.path("id"), page: input.int("page") ?? 1)
        }
    }

    private func list(
        _ visit: DashboardVisit, issued: JSONValue? = nil, rotated: Bool = false, formError: APIError? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let keys = try await visit.call("listApiKeys", query: ["include_revoked": "true"])
        let rows = (keys["api_keys"]?.arrayValue ?? []).map { key -> [String: Any] in
            var row = PageFormat.withTimes(key, ["created_at", "expires_at", "last_used_at", "revoked_at"])
            row["active"] = key["revoked_at"] == .null
            return row
        }
        var context: [String: Any] = [
            "keys": rows, "hasKeys": !rows.isEmpty,
            "minExpiry": Timestamp.day(number: Timestamp.dayNumber(millis: clock.nowMillis()) + 1),
        ]
        if let issued, let secret = issued["key"]?.stringValue {
            context["issued"] = [
                "heading": rotated ? "Your rotated API key" : "Your new API key", "value": secret,
                "note": rotated
                    ? "The previous key keeps working for 24 hours, then stops; switch your integrations to this one."
                    : "Use it as a bearer token: Authorization: Bearer <key>.",
            ]
        }
        if let formError { context["formError"] = DashboardPages.formError(formError) }
        return try await site.render("api-keys", visit, context, section: "keys", status: status)
    }

    private func usage(_ visit: DashboardVisit, id: String, page: Int) async throws -> Response {
        let key = try await visit.call("getApiKey", path: ["id": id])
        let usage = try await visit.call("getApiKeyUsage", path: ["id": id])
        let audit = try await visit.call("getApiKeyAudit", path: ["id": id], query: ["page": String(page), "limit": "20"])
        let days = (usage["usage"]?["days"]?.arrayValue ?? []).map { day in
            UsageChart.Day(
                date: day["date"]?.stringValue ?? "", requests: Int(day["requests"]?.intValue ?? 0),
                errors: Int(day["errors"]?.intValue ?? 0))
        }
        let totalRequests = days.reduce(0) { $0 + $1.requests }
        let totalErrors = days.reduce(0) { $0 + $1.errors }
        let context: [String: Any] = [
            "key": PageFormat.withTimes(key["api_key"] ?? .null, ["created_at", "expires_at", "last_used_at", "revoked_at"]),
            "usage": usage["usage"]?.templateValue ?? [:],
            "errorPercent": String(format: "%.1f", totalRequests == 0 ? 0 : Double(totalErrors) * 100 / Double(totalRequests)),
            "chart": UsageChart(days: days).svg(),
            "days": days.reversed().filter { $0.requests > 0 }.map { ["date": $0.date, "requests": $0.requests, "errors": $0.errors] },
            "audit": (audit["audit"]?.arrayValue ?? []).map { PageFormat.withTimes($0, ["occurred_at"]) },
            "pager": DashboardPages.pager("Audit log pages", page: page, meta: audit["meta"]),
            "total": Int(audit["meta"]?["total"]?.intValue ?? 0),
        ]
        return try await site.render("api-key-usage", visit, context, section: "keys")
    }
}
