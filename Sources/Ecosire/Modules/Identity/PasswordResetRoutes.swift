import Foundation
import Hummingbird
import Logging

/// `POST /api/auth/password-reset` mails a single-use link; `/confirm` sets the new password with
/// it. The request answers the same 202 whether or not the address has an account.
extension IdentityModule {
    static let passwordResetAccepted =
        "If an account uses this address, a link to choose a new password is on its way. It works once, within one hour."

    func registerPasswordReset(on api: APIRouter) {
        api.add(
            Operation(
                .post, "/api/auth/password-reset", id: "requestPasswordReset", tag: "Auth", summary: "Email a password-reset link",
                description: """
                    Sends a single-use link (valid for one hour) to the address if an account uses it. The answer is the same 202, \
                    as fast, either way (the email is queued after it), so it does not tell whether the address has an account. \
                    Every link sent works until one of them is used.
                    """,
                access: .open, body: .json(IdentitySchemas.passwordResetRequest),
                responses: [ResponseSpec(202, "Accepted (whether or not the address has an account)", schema: IdentitySchemas.accepted)],
                rateLimit: .auth
            )
        ) { input in try await requestPasswordReset(input) }

        api.add(
            Operation(
                .post, "/api/auth/password-reset/confirm", id: "confirmPasswordReset", tag: "Auth", summary: "Set a new password",
                description:
                    "Sets the password with the token from a reset email, cancels the account's other reset links and ends every session of the account (refresh tokens are revoked; access tokens expire within their lifetime).",
                access: .open, body: .json(IdentitySchemas.passwordResetConfirm),
                responses: [ResponseSpec(204, "Password changed; sign in with it")],
                rateLimit: .auth, returnsSecret: true, codes: ["INVALID_TOKEN"]
            )
        ) { input in try await confirmPasswordReset(input) }
    }

    private func requestPasswordReset(_ input: APIInput) async throws -> Response {
        let email = input.object["email"]!.stringValue!.lowercased()
        let decision = try await platform.enforceLimits([(.authEmail, subject: email)], context: input.context)
        // The lookup and the email happen after the answer, so that its timing cannot tell a
        // known address from an unknown one. A failure is logged; the person asks again. Detached:
        // the request's own transaction (under an Idempotency-Key) ends with the answer, and
        // this work must not run in it.
        let logger = input.context.logger
        Task.detached { [self] in
            do {
                try await sendPasswordReset(to: email)
            } catch {
                logger.error("Could not queue a password-reset email", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
        }
        var response = Response.json(["message": .string(Self.passwordResetAccepted)], status: .accepted)
        decision?.apply(to: &response.headers, now: Int64(platform.clock.now().timeIntervalSince1970))
        return response
    }

    /// Stores a new reset token for the account using `email`, if there is one, and queues the
    /// email that carries it.
    private func sendPasswordReset(to email: String) async throws {
        guard let user = try await store.user(email: email) else { return }
        let token = "prt_" + SecretTokens.base62(count: 43)
        let link = platform.config.publicURL + "/dashboard/reset-password?token=" + token
        try await resets.issue(
            for: user, tokenHash: SecretTokens.sha256Hex(token),
            email: (
                subject: "Reset your Ecosire password",
                text: """
                Someone (we hope you) asked to reset the password of the Ecosire account \(user.email).

                Choose a new password within one hour:
                \(link)

                Or send the token to POST /api/auth/password-reset/confirm: \(token)

                If it was not you, ignore this email; your password stays as it is.
                """,
                token: token
            ),
            now: platform.clock.nowMillis())
    }

    private func confirmPasswordReset(_ input: APIInput) async throws -> Response {
        let body = input.object
        let hash = try await platform.passwords.hash(body["password"]!.stringValue!)
        guard
            try await resets.redeem(
                tokenHash: SecretTokens.sha256Hex(body["token"]!.stringValue!), passwordHash: hash, now: platform.clock.nowMillis()) != nil
        else {
            throw APIError(
                .notFound, code: "INVALID_TOKEN", message: "This password-reset link is unknown, expired or already used",
                details: [FieldIssue(field: "token", message: "Unknown, expired or already used")])
        }
        return .noContent
    }
}
