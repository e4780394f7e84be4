import Foundation
import HTTPTypes
import Hummingbird

/// Dashboard → Webhooks: endpoints with their events and status; create, edit, enable or disable;
/// the signing secret shown once (on creation and rotation); the delivery log with response codes,
/// resend, and test events.
struct DashboardWebhookPages: Sendable {
    let site: DashboardPages

    struct EndpointForm: Decodable, DashboardForm {
        var csrf: String?
        var url: String?
        var description: String?
        var events: [String]?
    }

    struct StatusForm: Decodable, DashboardForm {
        var csrf: String?
        var active: String?
    }

    struct TestForm: Decodable, DashboardForm {
        var csrf: String?
        var type: String?
    }

    func register() {
        site.get("/dashboard/webhooks", id: "dashboardWebhooks", summary: "Webhook endpoints") { visit, _ in
            try await list(visit)
        }
        site.post("/dashboard/webhooks", id: "dashboardCreateWebhook", summary: "Create a webhook endpoint") { visit, _ in
            let form = try await site.form(EndpointForm.self, visit)
            do {
                let created = try await visit.call("createWebhookEndpoint", body: .object(Self.body(form)))
                return try await detail(visit, id: created["id"]?.stringValue ?? "", page: 1, secret: created["secret"], status: .created)
            } catch let error as APIError where error.status.code < 500 {
                return try await list(visit, formError: error, status: error.status)
            }
        }
        site.get(
            "/dashboard/webhooks/{id}", id: "dashboardWebhook", summary: "A webhook endpoint and its deliveries",
            query: [QueryParameter("page", .integer(minimum: 1, maximum: 1_000_000), "Delivery log page")]
        ) { visit, input in
            try await detail(visit, id: input.path("id"), page: input.int("page") ?? 1)
        }
        site.post("/dashboard/webhooks/{id}", id: "dashboardUpdateWebhook", summary: "Edit a webhook endpoint") { visit, input in
            let id = input.path("id")
            let form = try await site.form(EndpointForm.self, visit)
            do {
                _ = try await visit.call("updateWebhookEndpoint", path: ["id": id], body: .object(Self.body(form)))
                return .seeOther("/dashboard/webhooks/\(id)?notice=saved")
            } catch let error as APIError where error.status.code < 500 && error.status != .notFound {
                return try await detail(visit, id: id, page: 1, formError: error, status: error.status)
            }
        }
        site.post("/dashboard/webhooks/{id}/status", id: "dashboardWebhookStatus", summary: "Enable or disable an endpoint") {
            visit, input in
            let id = input.path("id")
            let form = try await site.form(StatusForm.self, visit)
            let active = form.active == "true"
            _ = try await visit.call("updateWebhookEndpoint", path: ["id": id], body: ["active": .bool(active)])
            return .seeOther("/dashboard/webhooks/\(id)?notice=\(active ? "enabled" : "disabled")")
        }
        site.post("/dashboard/webhooks/{id}/rotate-secret", id: "dashboardRotateWebhookSecret", summary: "Rotate a signing secret") {
            visit, input in
            _ = try await site.form(TokenForm.self, visit)
            let rotated = try await visit.call("rotateWebhookSecret", path: ["id": input.path("id")])
            return try await detail(visit, id: input.path("id"), page: 1, secret: rotated["secret"], rotated: true)
        }
        site.post("/dashboard/webhooks/{id}/test", id: "dashboardSendWebhookTest", summary: "Send a test event") { visit, input in
            let id = input.path("id")
            let form = try await site.form(TestForm.self, visit)
            _ = try await visit.call("sendWebhookTest", path: ["id": id], body: ["type": .string(form.type ?? "")])
            return .seeOther("/dashboard/webhooks/\(id)?notice=test-sent")
        }
        site.post(
            "/dashboard/webhooks/{id}/deliveries/{deliveryId}/resend", id: "dashboardResendWebhookDelivery",
            summary: "Send a delivery again"
        ) { visit, input in
            _ = try await site.form(TokenForm.self, visit)
            _ = try await visit.call("retryWebhookDelivery", path: ["id": input.path("deliveryId")])
            return .seeOther("/dashboard/webhooks/\(input.path("id"))?notice=resent")
        }
    }

    /// The API body of an endpoint form: the fields given (the API checks them).
    static func body(_ form: EndpointForm) -> JSONObject {
        var body: JSONObject = [
            "url": .string(HTMLForm.text(form.url) ?? ""), "events": .array((form.events ?? []).map { .string($0) }),
        ]
        body["description"] = HTMLForm.text(form.description).map { .string($0) } ?? .null
        return body
    }

    private func eventTypes(_ visit: DashboardVisit, selected: Set<String>) async throws -> [[String: Any]] {
        try await (visit.callAll("listWebhookEventTypes")).map { type in
            let name = type["type"]?.stringValue ?? ""
            return ["type": name, "description": type["description"]?.stringValue ?? "", "checked": selected.contains(name)]
        }
    }

    private func list(_ visit: DashboardVisit, formError: APIError? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let endpoints = try await visit.call("listWebhookEndpoints", query: ["limit": "100"])
        let rows = (endpoints["data"]?.arrayValue ?? []).map { endpoint -> [String: Any] in
            var row = PageFormat.withTimes(endpoint, ["createdAt", "failingSince"])
            row["eventList"] = (endpoint["events"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
            return row
        }
        var context: [String: Any] = [
            "endpoints": rows, "hasEndpoints": !rows.isEmpty, "eventTypes": try await eventTypes(visit, selected: []),
        ]
        if let formError { context["formError"] = DashboardPages.formError(formError) }
        return try await site.render("webhooks", visit, context, section: "webhooks", status: status)
    }

    private func detail(
        _ visit: DashboardVisit, id: String, page: Int, secret: JSONValue? = nil, rotated: Bool = false, formError: APIError? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let endpoint = try await visit.call("getWebhookEndpoint", path: ["id": id])
        let deliveries = try await visit.call(
            "listWebhookDeliveries", path: ["id": id], query: ["page": String(page), "limit": "20"])
        let events = Set((endpoint["events"]?.arrayValue ?? []).compactMap(\.stringValue))
        var context: [String: Any] = [
            "endpoint": PageFormat.withTimes(endpoint, ["createdAt", "updatedAt", "failingSince", "previousSecretExpiresAt"]),
            "eventTypes": try await eventTypes(visit, selected: events), "allEvents": events.contains("*"),
            "deliveries": (deliveries["data"]?.arrayValue ?? []).map { delivery -> [String: Any] in
                var row = PageFormat.withTimes(delivery, ["createdAt", "deliveredAt", "nextAttemptAt", "updatedAt"])
                row["failed"] = delivery["status"]?.stringValue == "failed"
                return row
            },
            "pager": DashboardPages.pager("Delivery log pages", page: page, meta: deliveries["meta"]),
        ]
        if let value = secret?.stringValue {
            context["issued"] = [
                "heading": rotated ? "Your new signing secret" : "Your endpoint's signing secret", "value": value,
                "note": rotated
                    ? "Deliveries are signed with both the old and the new secret for 24 hours, so you can switch without dropping events."
                    : "Verify every delivery's signature with it (see the verifier on the developer portal).",
            ]
        }
        if let formError { context["formError"] = DashboardPages.formError(formError) }
        return try await site.render("webhook", visit, context, section: "webhooks", status: status)
    }
}
