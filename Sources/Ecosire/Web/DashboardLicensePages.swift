import Foundation
import Hummingbird

/// Dashboard → Licenses: the licenses the caller can see (an admin the organization's, a member
/// the ones they hold) and each license's activations.
struct DashboardLicensePages: Sendable {
    let site: DashboardPages

    func register() {
        site.get(
            "/dashboard/licenses", id: "dashboardLicenses", summary: "Licenses and activations",
            query: [QueryParameter("page", .integer(minimum: 1, maximum: 1_000_000), "Page of licenses")]
        ) { visit, input in
            let page = input.int("page") ?? 1
            let licenses = try await visit.call("listLicenses", query: ["page": String(page), "limit": "20"])
            var rows: [[String: Any]] = []
            for license in licenses["data"]?.arrayValue ?? [] {
                var row = PageFormat.withTimes(license, ["createdAt", "expiresAt", "updatesUntil"])
                row["active"] = license["status"]?.stringValue == "active"
                let activations = try await visit.call(
                    "listLicenseActivations", path: ["id": license["id"]?.stringValue ?? ""], query: ["limit": "50"])
                row["activations"] = (activations["data"]?.arrayValue ?? []).map {
                    PageFormat.withTimes($0, ["activatedAt", "deactivatedAt", "lastValidatedAt"])
                }
                rows.append(row)
            }
            let context: [String: Any] = [
                "licenses": rows, "hasLicenses": !rows.isEmpty,
                "pager": DashboardPages.pager("License pages", page: page, meta: licenses["meta"]),
            ]
            return try await site.render("licenses", visit, context, section: "licenses")
        }
    }
}
