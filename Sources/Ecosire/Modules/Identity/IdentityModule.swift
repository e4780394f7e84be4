import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Registration, login, token refresh, logout and the caller's own profile.
struct IdentityModule: Module {
    /// What session-starting answers document: the three cookies they set.
    static let cookieHeaders = [
        "Set-Cookie":
            "The session cookies: \(AuthCookie.access) (access token) and \(AuthCookie.refresh) (refresh token), HttpOnly and SameSite=Lax, and \(AuthCookie.csrf) (readable by scripts, for X-CSRF-Token)"
    ]

    let platform: Platform
    var store: IdentityStore { IdentityStore(database: platform.database) }
    var resets: PasswordResetStore {
        PasswordResetStore(database: platform.database, outbox: EmailOutbox(clock: platform.clock, secrets: platform.secrets))
    }

    func register(on api: APIRouter) {
        let tag = "Auth"
        api.add(
            Operation(
                .post, "/api/auth/register", id: "register", tag: tag, summary: "Create an account",
                description: """
                    Creates the user and a new organization owned by them, and signs them in (tokens and cookies). An address that \
                    already has an account answers 409; the password is hashed either way, so both answers take as long, and the \
                    answers are limited per client address (`auth`) and per email (`auth.email`), so addresses cannot be tried in bulk.
                    """,
                access: .open, body: .json(IdentitySchemas.register),
                responses: [
                    ResponseSpec(
                        201, "Signed in as the new user", schema: IdentitySchemas.session,
                        headers: Self.cookieHeaders.merging(["Location": "/api/users/me"]) { $1 })
                ],
                errors: [409], rateLimit: .auth, returnsSecret: true
            )
        ) { input in try await registerUser(input) }

        api.add(
            Operation(
                .post, "/api/auth/login", id: "login", tag: tag, summary: "Login with email and password",
                description:
                    "Returns an access token and a single-use refresh token, and sets the HttpOnly cookies. Unknown email and wrong password answer the same 401 in the same time. Limited per client address and email (`login`, 10 a minute), per client address (`auth`) and per email from any address (`auth.email`).",
                access: .open, body: .json(IdentitySchemas.login),
                responses: [ResponseSpec(200, "Signed in", schema: IdentitySchemas.session, headers: Self.cookieHeaders)],
                errors: [401], rateLimit: .auth, returnsSecret: true, codes: ["INVALID_CREDENTIALS"]
            )
        ) { input in try await login(input) }

        api.add(
            Operation(
                .post, "/api/auth/refresh", id: "refreshToken", tag: tag, summary: "Exchange a refresh token",
                description:
                    "Refresh tokens are single-use: each call returns a new pair. Presenting a used token revokes the whole session.",
                access: .open, body: .json(IdentitySchemas.refresh, required: false),
                responses: [ResponseSpec(200, "New tokens", schema: IdentitySchemas.session, headers: Self.cookieHeaders)],
                errors: [401], rateLimit: .auth, returnsSecret: true, codes: ["REFRESH_TOKEN_REUSED", "UNAUTHORIZED"]
            )
        ) { input in try await refresh(input) }

        api.add(
            Operation(
                .post, "/api/auth/logout", id: "logout", tag: tag, summary: "Sign out",
                description: "Revokes the session's refresh tokens and clears the cookies. Always 204.",
                access: .open, body: .json(IdentitySchemas.refresh, required: false),
                responses: [
                    ResponseSpec(204, "Signed out", headers: ["Set-Cookie": "Clears the session cookies (Max-Age=0)"])
                ]
            )
        ) { input in try await logout(input) }

        api.add(
            Operation(
                .get, "/api/users/me", id: "getCurrentUser", tag: "Users", summary: "The signed-in user",
                responses: [ResponseSpec(200, "The caller", schema: IdentitySchemas.profile)]
            )
        ) { input in
            guard let user = try await store.user(id: try input.caller.userID) else { throw APIError.unauthorized() }
            return .json(user.profile)
        }

        api.add(
            Operation(
                .patch, "/api/users/me", id: "updateCurrentUser", tag: "Users", summary: "Update name or password",
                description: "Changing the password needs `currentPassword` and signs out every session.",
                body: .json(IdentitySchemas.updateMe),
                responses: [ResponseSpec(200, "The updated caller", schema: IdentitySchemas.profile)]
            )
        ) { input in try await updateMe(input) }

        api.add(
            Operation(
                .get, "/.well-known/jwks.json", id: "getJWKS", tag: tag, summary: "Public keys for access tokens",
                access: .open,
                responses: [
                    ResponseSpec(
                        200, "JSON Web Key Set", schema: Schema.object([.init("keys", .array(.anyValue), required: true)]).named("JWKS"))
                ]
            )
        ) { _ in .json(platform.tokens.jwks) }

        registerPasswordReset(on: api)
    }

    // MARK: Handlers

    private func registerUser(_ input: APIInput) async throws -> Response {
        let body = input.object
        let email = body["email"]!.stringValue!.lowercased()
        let name = body["name"]!.stringValue!
        let decision = try await platform.enforceLimits([(.authEmail, subject: email)], context: input.context)
        let now = Int64(platform.clock.now().timeIntervalSince1970)
        // Hashed before the address is looked up, so that a taken address answers as slowly.
        let hash = try await platform.passwords.hash(body["password"]!.stringValue!)
        let organizationName = body["organizationName"]?.stringValue ?? "\(name)'s organization"
        guard
            let user = try await store.createUser(
                email: email, name: name, passwordHash: hash, role: .owner, organizationID: nil,
                organizationName: organizationName, now: platform.clock.nowMillis()
            )
        else {
            var error = APIError.conflict(
                "An account with this email already exists", details: [FieldIssue(field: "email", message: "Already registered")])
            decision?.apply(to: &error.headers, now: now)
            throw error
        }
        var response = try await startSession(for: user, familyID: UUIDv7.generate(), status: .created)
        response.headers[.location] = "/api/users/me"
        decision?.apply(to: &response.headers, now: now)
        return response
    }

    private func login(_ input: APIInput) async throws -> Response {
        let body = input.object
        let email = body["email"]!.stringValue!.lowercased()
        let password = body["password"]!.stringValue!
        let nowSeconds = Int64(platform.clock.now().timeIntervalSince1970)
        let decision = try await platform.enforceLimits(
            [(.login, subject: "\(platform.clientIP(input.request, input.context)):\(email)"), (.authEmail, subject: email)],
            context: input.context)
        let user = try await store.user(email: email)
        let valid: Bool
        if let user {
            valid = try await platform.passwords.verify(password, hash: user.passwordHash)
        } else {
            try await platform.passwords.verifyDecoy(password)
            valid = false
        }
        guard let user, valid else {
            var error = APIError.unauthorized("Invalid email or password", code: "INVALID_CREDENTIALS")
            decision?.apply(to: &error.headers, now: nowSeconds)
            throw error
        }
        var response = try await startSession(for: user, familyID: UUIDv7.generate(), status: .ok)
        decision?.apply(to: &response.headers, now: nowSeconds)
        return response
    }

    private func refresh(_ input: APIInput) async throws -> Response {
        guard let presented = input.object["refreshToken"]?.stringValue ?? input.request.cookies[AuthCookie.refresh]?.value,
            !presented.isEmpty
        else {
            throw APIError.unauthorized("A refresh token is required")
        }
        let newToken = Self.newRefreshToken()
        let now = platform.clock.nowMillis()
        let result = try await store.rotate(
            hash: SecretTokens.sha256Hex(presented), newHash: SecretTokens.sha256Hex(newToken),
            expiresAt: now + Int64(platform.config.refreshTokenLifetime * 1000), now: now
        )
        switch result {
        case .rotated(let user, let familyID):
            return try await sessionResponse(for: user, familyID: familyID, refreshToken: newToken, status: .ok)
        case .reused:
            input.context.logger.warning("Refresh token reuse detected; session revoked")
            throw APIError.unauthorized("Refresh token already used; the session has been revoked", code: "REFRESH_TOKEN_REUSED")
        case .invalid:
            throw APIError.unauthorized("Invalid or expired refresh token")
        }
    }

    private func logout(_ input: APIInput) async throws -> Response {
        let now = platform.clock.nowMillis()
        if let presented = input.object["refreshToken"]?.stringValue ?? input.request.cookies[AuthCookie.refresh]?.value,
            !presented.isEmpty
        {
            try await store.revokeFamily(tokenHash: SecretTokens.sha256Hex(presented), now: now)
        }
        if let caller = try? await platform.authenticator.authenticate(input.request, context: input.context),
            let session = caller.sessionID
        {
            try await store.revokeFamily(id: session, now: now)
        }
        var response = Response.noContent
        for name in [AuthCookie.access, AuthCookie.refresh, AuthCookie.csrf] {
            response.setCookie(authCookie(name, value: "", maxAge: 0))
        }
        return response
    }

    private func updateMe(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        guard let user = try await store.user(id: caller.userID) else { throw APIError.unauthorized() }
        let body = input.object
        var newHash: String?
        if let password = body["password"]?.stringValue {
            guard let current = body["currentPassword"]?.stringValue else {
                throw APIError.validation(field: "currentPassword", "Required to change the password")
            }
            guard try await platform.passwords.verify(current, hash: user.passwordHash) else {
                throw APIError.validation(field: "currentPassword", "Incorrect password")
            }
            newHash = try await platform.passwords.hash(password)
        }
        try await store.updateUser(id: user.id, name: body["name"]?.stringValue, passwordHash: newHash, now: platform.clock.nowMillis())
        guard let updated = try await store.user(id: user.id) else { throw APIError.unauthorized() }
        return .json(updated.profile)
    }

    // MARK: Sessions

    static func newRefreshToken() -> String { "rt_" + SecretTokens.base62(count: 43) }

    private func startSession(for user: UserRecord, familyID: String, status: HTTPResponse.Status) async throws -> Response {
        let refreshToken = Self.newRefreshToken()
        let now = platform.clock.nowMillis()
        try await store.insertRefreshToken(
            familyID: familyID, userID: user.id, hash: SecretTokens.sha256Hex(refreshToken),
            expiresAt: now + Int64(platform.config.refreshTokenLifetime * 1000), now: now
        )
        return try await sessionResponse(for: user, familyID: familyID, refreshToken: refreshToken, status: status)
    }

    private func sessionResponse(for user: UserRecord, familyID: String, refreshToken: String, status: HTTPResponse.Status) async throws
        -> Response
    {
        let config = platform.config
        let token = try await platform.tokens.issue(
            userID: user.id, organizationID: user.organizationID, role: user.role, sessionID: familyID, now: platform.clock.now()
        )
        var response = Response.json(
            .object([
                "token": .string(token), "refreshToken": .string(refreshToken),
                "expiresIn": .int(Int64(config.accessTokenLifetime)), "user": user.summary,
            ]),
            status: status
        )
        response.headers[.cacheControl] = "no-store"
        response.setCookie(authCookie(AuthCookie.access, value: token, maxAge: Int(config.accessTokenLifetime)))
        response.setCookie(authCookie(AuthCookie.refresh, value: refreshToken, maxAge: Int(config.refreshTokenLifetime)))
        response.setCookie(authCookie(AuthCookie.csrf, value: SecretTokens.base62(count: 32), maxAge: Int(config.refreshTokenLifetime)))
        return response
    }

    /// `Path=/; SameSite=Lax`, `Secure` behind TLS, and HttpOnly for all but the CSRF token,
    /// which scripts must be able to read for the double-submit check.
    private func authCookie(_ name: String, value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: name, value: value, maxAge: maxAge, path: "/", secure: platform.config.secureCookies,
            httpOnly: name != AuthCookie.csrf, sameSite: .lax
        )
    }
}
