import Foundation
import HTTPTypes
import Hummingbird

/// Dashboard → forgotten password: ask for a reset link by email, then choose a new password with
/// it. Both forms run the API's operations, so the limits and answers are the API's.
struct DashboardPasswordPages: Sendable {
    let platform: Platform
    let pages: PageRenderer
    let api: APIRouter

    struct RequestForm: Decodable {
        var email: String?
    }

    struct ResetForm: Decodable {
        var token: String?
        var password: String?
    }

    func register() {
        api.add(
            Operation(
                .get, "/dashboard/forgot-password", id: "dashboardForgotPasswordPage", tag: "Dashboard", summary: "Forgotten password page",
                access: .open, responses: [ResponseSpec(200, "HTML", mediaType: "text/html")], undocumented: true)
        ) { _ in try pages.page("forgot-password", [:]) }

        api.add(
            Operation(
                .post, "/dashboard/forgot-password", id: "dashboardRequestPasswordReset", tag: "Dashboard", summary: "Email a reset link",
                access: .open, body: .raw(.object([]), mediaType: "application/x-www-form-urlencoded", description: "The email"),
                responses: [ResponseSpec(200, "HTML", mediaType: "text/html")], undocumented: true, rateLimit: .auth)
        ) { input in
            let form = try await HTMLForm.decode(RequestForm.self, from: input.request)
            let email = HTMLForm.text(form.email) ?? ""
            do {
                try platform.authenticator.checkSignInOrigin(input.request)
                let answer = try await api.invoke(
                    "requestPasswordReset", as: nil, body: ["email": .string(email)], request: input.request, context: input.context)
                return try pages.page(
                    "forgot-password", ["sent": try await answer.jsonBody()["message"]?.stringValue ?? "", "email": email])
            } catch let error as APIError where error.status.code < 500 {
                return try refused("forgot-password", ["email": email], error)
            }
        }

        let tokenQuery = [QueryParameter("token", .string(maxLength: 200), "The token from the reset email")]
        api.add(
            Operation(
                .get, "/dashboard/reset-password", id: "dashboardResetPasswordPage", tag: "Dashboard", summary: "New password page",
                access: .open, query: tokenQuery, responses: [ResponseSpec(200, "HTML", mediaType: "text/html")], undocumented: true)
        ) { input in
            // The token is in this page's address; the site-wide `Referrer-Policy: same-origin`
            // keeps it from other sites.
            try pages.page("reset-password", ["token": input.query["token"] ?? ""])
        }

        api.add(
            Operation(
                .post, "/dashboard/reset-password", id: "dashboardResetPassword", tag: "Dashboard", summary: "Set a new password",
                access: .open, body: .raw(.object([]), mediaType: "application/x-www-form-urlencoded", description: "Token and password"),
                responses: [ResponseSpec(303, "To the sign-in page")], undocumented: true, rateLimit: .auth)
        ) { input in
            let form = try await HTMLForm.decode(ResetForm.self, from: input.request)
            let token = form.token ?? ""
            do {
                try platform.authenticator.checkSignInOrigin(input.request)
                _ = try await api.invoke(
                    "confirmPasswordReset", as: nil, body: ["token": .string(token), "password": .string(form.password ?? "")],
                    request: input.request, context: input.context)
                return .seeOther("/dashboard/login?notice=password-changed")
            } catch let error as APIError where error.status.code < 500 {
                return try refused("reset-password", ["token": token], error)
            }
        }
    }

    /// The form again with the problem's message, under the problem's status.
    private func refused(_ template: String, _ context: [String: Any], _ error: APIError) throws -> Response {
        var context = context
        let field = error.details.first.map { "\($0.field): \($0.message)" }
        context["error"] = field.map { "\(error.message) (\($0))" } ?? error.message
        var response = try pages.page(template, context)
        response.status = error.status
        return response
    }
}
