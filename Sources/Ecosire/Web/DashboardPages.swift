import Foundation
import HTTPTypes
import Hummingbird

/// What every dashboard page shares: registration of its routes, the session check (a visitor who
/// is not signed in goes to the sign-in page), the form token, and rendering with the navigation.
struct DashboardPages: Sendable {
    let pages: PageRenderer
    let sessions: DashboardSessions
    let api: APIRouter

    typealias Handler = @Sendable (DashboardVisit, APIInput) async throws -> Response

    /// The query parameters every page accepts: `notice` names a message after a redirect.
    static let notice = QueryParameter("notice", .string(maxLength: 40), "A message to show")

    /// A page read with GET.
    func get(_ path: String, id: String, summary: String, query: [QueryParameter] = [], _ handler: @escaping Handler) {
        api.add(
            Operation(
                .get, path, id: id, tag: "Dashboard", summary: summary, access: .open, query: query + [Self.notice],
                responses: [ResponseSpec(200, "HTML", mediaType: "text/html")], undocumented: true)
        ) { input in
            try await serve(input, signIn: "/dashboard/login?next=" + Self.queryEscaped(input.request.uri.path), handler)
        }
    }

    /// A form posted to the dashboard: signed in, and carrying the session's form token.
    func post(_ path: String, id: String, summary: String, _ handler: @escaping Handler) {
        api.add(
            Operation(
                .post, path, id: id, tag: "Dashboard", summary: summary, access: .open,
                body: .raw(.object([]), mediaType: "application/x-www-form-urlencoded", description: "An HTML form"),
                responses: [ResponseSpec(303, "Back to a page"), ResponseSpec(200, "HTML", mediaType: "text/html")],
                undocumented: true)
        ) { input in
            try await serve(input, signIn: "/dashboard/login", handler)
        }
    }

    /// Runs `handler` for a signed-in visitor (others go to `signIn`); an API refusal (a key that is
    /// not yours: 404) becomes an error page.
    private func serve(_ input: APIInput, signIn: String, _ handler: Handler) async throws -> Response {
        guard let visit = await sessions.visit(input.request, input.context) else { return .seeOther(signIn) }
        do {
            return visit.finish(try await handler(visit, input))
        } catch let error as APIError where error.status.code < 500 {
            return visit.finish(try errorPage(error, visit: visit))
        }
    }

    /// Reads a posted form after checking its token.
    func form<Form: Decodable & DashboardForm>(_ type: Form.Type, _ visit: DashboardVisit) async throws -> Form {
        let form = try await HTMLForm.decode(type, from: visit.request)
        try visit.requireFormToken(form.csrf)
        return form
    }

    /// `template` with the navigation, the signed-in user and the form token.
    func render(
        _ template: String, _ visit: DashboardVisit, _ context: [String: Any], section: String, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        var context = context
        let user = try await visit.call("getCurrentUser")
        context["user"] = user.templateValue
        context["csrf"] = visit.csrf
        context["section_" + section] = true
        if let notice = QueryString(visit.request.uri.query)["notice"].flatMap({ Self.notices[$0] }) { context["notice"] = notice }
        var response = try pages.page(template, context)
        response.status = status
        return response
    }

    /// A refused form re-rendered by `page` with the problem's message and its fields.
    static func formError(_ error: APIError) -> [String: Any] {
        [
            "message": error.message,
            "details": error.details.map { ["field": $0.field, "message": $0.message] },
        ]
    }

    /// The pager partial's values for `page` of a list whose `meta` has `totalPages` (or the API-keys
    /// resource's `total_pages`); `label` names the list for screen readers.
    static func pager(_ label: String, page: Int, meta: JSONValue?) -> [String: Any] {
        let totalPages = max(Int(meta?["totalPages"]?.intValue ?? meta?["total_pages"]?.intValue ?? 1), 1)
        var pager: [String: Any] = ["label": label, "page": page, "totalPages": totalPages]
        if page > 1 { pager["previousPage"] = page - 1 }
        if page < totalPages { pager["nextPage"] = page + 1 }
        return pager
    }

    private func errorPage(_ error: APIError, visit: DashboardVisit) throws -> Response {
        var response = try pages.page(
            "dashboard-error",
            ["csrf": visit.csrf, "status": Int(error.status.code), "reason": error.status.reasonPhrase, "message": error.message])
        response.status = error.status
        return response
    }

    /// The messages a redirect can ask for.
    static let notices: [String: String] = [
        "revoked": "The API key was revoked. Requests made with it now fail with 401.",
        "saved": "The endpoint was saved.",
        "test-sent": "A test event was queued. It appears in the delivery log below once sent (reload the page).",
        "resent": "The delivery was queued again.",
        "enabled": "The endpoint was enabled.",
        "disabled": "The endpoint was disabled; no events are sent to it until you enable it.",
        "signed-out": "You are signed out.",
        "password-changed": "Your password is changed and every session signed out. Sign in with the new password.",
    ]

    static func queryEscaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? ""
    }
}

/// A posted dashboard form: every one carries the session's form token.
protocol DashboardForm {
    var csrf: String? { get }
}

/// A form with nothing but its token (buttons: revoke, rotate, resend).
struct TokenForm: Decodable, DashboardForm {
    var csrf: String?
}

extension JSONValue {
    /// The value as Mustache reads it: objects as dictionaries (without their null members, so
    /// `{{#field}}` sections skip them), arrays, strings, numbers and booleans.
    var templateValue: Any? {
        switch self {
        case .null: nil
        case .bool(let value): value
        case .int(let value): Int(value)
        case .double(let value): value
        case .string(let value): value
        case .array(let values): values.compactMap(\.templateValue)
        case .object(let object):
            Dictionary(object.members.compactMap { key, value in value.templateValue.map { (key, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }
}

/// How pages show the API's values.
enum PageFormat {
    /// `2026-11-24T10:31:05.000Z` → `2026-11-24 10:31 UTC`.
    static func time(_ iso: String?) -> String? {
        guard let iso, iso.count >= 16 else { return nil }
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(5) + " UTC"
    }

    /// A dictionary from the API with `<key>_text` added for each timestamp in `keys`.
    static func withTimes(_ value: JSONValue, _ keys: [String]) -> [String: Any] {
        var result = value.templateValue as? [String: Any] ?? [:]
        for key in keys {
            if let text = time(value[key]?.stringValue) { result[key + "_text"] = text }
        }
        return result
    }
}
