import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard at `/dashboard`: sign in and out with the cookie session, and the API keys,
/// webhooks and licenses pages. Server-rendered; every page reads without JavaScript and every
/// form posts without it (the one script adds copy buttons).
struct DashboardModule: Module {
    let platform: Platform
    let pages: PageRenderer

    struct SignInForm: Decodable {
        var email: String?
        var password: String?
        var next: String?
    }

    func register(on api: APIRouter) {
        let sessions = DashboardSessions(platform: platform, api: api)
        let site = DashboardPages(pages: pages, sessions: sessions, api: api)
        let signInQuery = [QueryParameter("next", .string(maxLength: 500), "Where to go after signing in"), DashboardPages.notice]

        api.add(
            Operation(
                .get, "/dashboard", id: "dashboard", tag: "Dashboard", summary: "Dashboard home", access: .open,
                responses: [ResponseSpec(303, "To the API keys page")], undocumented: true)
        ) { _ in .seeOther("/dashboard/api-keys") }

        api.add(
            Operation(
                .get, "/dashboard/login", id: "dashboardSignInPage", tag: "Dashboard", summary: "Sign-in page", access: .open,
                query: signInQuery, responses: [ResponseSpec(200, "HTML", mediaType: "text/html")], undocumented: true)
        ) { input in
            let next = Self.safeNext(input.query["next"])
            if await sessions.visit(input.request, input.context) != nil { return .seeOther(next) }
            let notice = input.query["notice"].flatMap { DashboardPages.notices[$0] }
            return try signInPage(next: next, email: nil, notice: notice)
        }

        api.add(
            Operation(
                .post, "/dashboard/login", id: "dashboardSignIn", tag: "Dashboard", summary: "Sign in", access: .open,
                body: .raw(.object([]), mediaType: "application/x-www-form-urlencoded", description: "Email and password"),
                responses: [ResponseSpec(303, "Signed in")], undocumented: true, rateLimit: .auth)
        ) { input in
            let form = try await HTMLForm.decode(SignInForm.self, from: input.request)
            let next = Self.safeNext(form.next)
            do {
                try platform.authenticator.checkSignInOrigin(input.request)
            } catch let error as APIError {
                var response = try signInPage(next: next, email: nil, error: error.message)
                response.status = error.status
                return response
            }
            do {
                let session = try await api.invoke(
                    "login", as: nil, body: ["email": .string(form.email ?? ""), "password": .string(form.password ?? "")],
                    request: input.request, context: input.context)
                return Response.seeOther(next, cookies: session.headers[values: .setCookie])
            } catch let error as APIError where error.status.code < 500 {
                let message =
                    error.status == .unprocessableContent || error.status == .badRequest
                    ? "Enter your email address and password." : error.message
                var response = try signInPage(next: next, email: form.email, error: message)
                response.status = error.status
                return response
            }
        }

        api.add(
            Operation(
                .post, "/dashboard/logout", id: "dashboardSignOut", tag: "Dashboard", summary: "Sign out", access: .open,
                body: .raw(.object([]), mediaType: "application/x-www-form-urlencoded", description: "The form token"),
                responses: [ResponseSpec(303, "Signed out")], undocumented: true)
        ) { input in
            if let visit = await sessions.visit(input.request, input.context) {
                let form = try await HTMLForm.decode(TokenForm.self, from: input.request)
                try visit.requireFormToken(form.csrf)
            }
            let cleared = try await api.invoke("logout", as: nil, request: input.request, context: input.context)
            return Response.seeOther("/dashboard/login?notice=signed-out", cookies: cleared.headers[values: .setCookie])
        }

        DashboardPasswordPages(platform: platform, pages: pages, api: api).register()
        DashboardAPIKeyPages(site: site, clock: platform.clock).register()
        DashboardWebhookPages(site: site).register()
        DashboardLicensePages(site: site).register()
    }

    private func signInPage(next: String, email: String?, notice: String? = nil, error: String? = nil) throws -> Response {
        var context: [String: Any] = ["next": next]
        if let email { context["email"] = email }
        if let notice { context["notice"] = notice }
        if let error { context["error"] = error }
        return try pages.page("sign-in", context)
    }

    /// Only the dashboard and the portal of this server, so a link cannot send someone elsewhere
    /// after signing in.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/dashboard") || next.hasPrefix("/developers"), !next.contains("//"), !next.contains("\\")
        else { return "/dashboard/api-keys" }
        return next
    }
}
