import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request to a dashboard page by a signed-in user. Pages read and change data only through
/// `call`, which runs the API's own operations, so the dashboard holds no business rules.
struct DashboardVisit: Sendable {
    let caller: Caller
    /// The double-submit token the page's forms carry (the `ecosire_csrf` cookie's value).
    let csrf: String
    /// `Set-Cookie` values from a session refresh made on the way in, sent with the page.
    let cookies: [String]
    let request: Request
    let context: AppRequestContext
    let api: APIRouter

    /// The JSON answer of the operation `id` run as the caller (`.null` for a 204).
    func call(
        _ id: String, path: [String: String] = [:], query: [String: String] = [:], body: JSONValue? = nil
    ) async throws -> JSONValue {
        try await api.invoke(id, as: caller, path: path, query: query, body: body, request: request, context: context).jsonBody()
    }

    /// Every item of a `{data, meta}` list operation, all pages read (see `APIRouter.invokeAll`).
    func callAll(_ id: String, path: [String: String] = [:], query: [String: String] = [:]) async throws -> [JSONValue] {
        try await api.invokeAll(id, as: caller, path: path, query: query, request: request, context: context)
    }

    /// Adds the refreshed session's cookies to a response.
    func finish(_ response: Response) -> Response {
        var response = response
        for cookie in cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }

    /// Refuses a form whose token does not match the session's cookie (cross-site form posts).
    func requireFormToken(_ token: String?) throws {
        guard let token, let cookie = request.cookies[AuthCookie.csrf]?.value, !cookie.isEmpty,
            SecretTokens.constantTimeEquals(token, cookie)
        else {
            throw APIError(.forbidden, code: "CSRF_FAILED", message: "The form has expired; reload the page and try again")
        }
    }
}

/// Finds the dashboard session of a request: the `ecosire_auth` cookie, or, once it has expired,
/// a rotation of the `ecosire_refresh` cookie through the API's refresh operation.
struct DashboardSessions: Sendable {
    let platform: Platform
    let api: APIRouter

    func visit(_ request: Request, _ context: AppRequestContext) async -> DashboardVisit? {
        let authenticator = platform.authenticator
        if let token = request.cookies[AuthCookie.access]?.value, !token.isEmpty,
            let caller = await authenticator.cookieCaller(token: token)
        {
            return DashboardVisit(
                caller: caller, csrf: request.cookies[AuthCookie.csrf]?.value ?? "", cookies: [], request: request, context: context,
                api: api)
        }
        guard let refresh = request.cookies[AuthCookie.refresh]?.value, !refresh.isEmpty,
            let response = try? await api.invoke("refreshToken", as: nil, request: request, context: context),
            response.status == .ok, let session = try? await response.jsonBody(), let token = session["token"]?.stringValue,
            let caller = await authenticator.cookieCaller(token: token)
        else { return nil }
        let cookies = response.headers[values: .setCookie]
        return DashboardVisit(
            caller: caller, csrf: Self.cookieValue(AuthCookie.csrf, in: cookies) ?? "", cookies: cookies, request: request,
            context: context, api: api)
    }

    /// The value a `Set-Cookie` list gives `name`.
    static func cookieValue(_ name: String, in setCookies: [String]) -> String? {
        for line in setCookies {
            let pair = line.split(separator: ";", maxSplits: 1).first ?? ""
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }
}

/// Reading HTML forms (`application/x-www-form-urlencoded`) with Hummingbird's decoder.
enum HTMLForm {
    /// Forms are small; anything bigger is not one of ours.
    static let limit = 64 * 1024

    static func decode<Form: Decodable>(_ type: Form.Type, from request: Request) async throws -> Form {
        guard APIRouter.mediaType(of: request) == "application/x-www-form-urlencoded" else {
            throw APIError.unsupportedMediaType(expected: "application/x-www-form-urlencoded")
        }
        let buffer = try await APIRouter.readBody(request, limit: limit)
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: String(buffer: buffer))
        } catch {
            throw APIError.badRequest("The form could not be read")
        }
    }

    /// A text field's value, nil when left empty.
    static func text(_ value: String?) -> String? {
        guard let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return trimmed
    }
}

/// Redirects for the pages (303 so the browser follows with GET).
extension Response {
    /// To `location`, setting the given `Set-Cookie` values (a session started or ended).
    static func seeOther(_ location: String, cookies: [String] = []) -> Response {
        var response = Response(status: .seeOther)
        response.headers[.location] = location
        response.headers[.cacheControl] = "no-store"
        for cookie in cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }
}
