import Foundation
import HTTPTypes
import Hummingbird
import JWTKit

/// Names of the authentication cookies.
public enum AuthCookie {
    public static let access = "ecosire_auth"
    public static let refresh = "ecosire_refresh"
    /// Readable by scripts on purpose: the double-submit CSRF token.
    public static let csrf = "ecosire_csrf"
}

/// Resolves a caller from `Authorization: Bearer <jwt>` or from the `ecosire_auth` cookie; a
/// cookie-authenticated request that changes state must also pass the CSRF check.
public struct Authenticator: Authenticating {
    let tokens: TokenService
    /// Extra origins allowed to send cookie-authenticated writes (besides the server's own).
    let trustedOrigins: Set<String>
    /// Verifies API keys (`ecos_…`).
    let apiKeys: APIKeyVerifier?

    public init(tokens: TokenService, trustedOrigins: Set<String> = [], apiKeys: APIKeyVerifier? = nil) {
        self.tokens = tokens
        self.trustedOrigins = trustedOrigins
        self.apiKeys = apiKeys
    }

    public func authenticate(_ request: Request, context: AppRequestContext) async throws -> Caller {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIError.unauthorized("Authorization must be a Bearer token")
            }
            let token = String(parts[1].trimmingBlanks())
            if token.hasPrefix("ecos_") {
                guard let apiKeys else { throw APIError.unauthorized("Invalid API key") }
                return try await apiKeys.caller(forSecret: token)
            }
            return try await caller(fromJWT: token, credential: .bearerToken)
        }
        if let cookie = request.cookies[AuthCookie.access]?.value, !cookie.isEmpty {
            let caller = try await caller(fromJWT: cookie, credential: .cookie)
            if !Self.isSafe(request.method) { try checkCSRF(request) }
            return caller
        }
        throw APIError.unauthorized()
    }

    /// The caller of a cookie session without the CSRF check, for server-rendered pages, whose
    /// forms carry their own token (see `DashboardSessions`).
    public func cookieCaller(token: String) async -> Caller? {
        try? await caller(fromJWT: token, credential: .cookie)
    }

    private func caller(fromJWT token: String, credential: CredentialKind) async throws -> Caller {
        guard let claims = await tokens.verify(token), let role = Role(rawValue: claims.role) else {
            throw APIError.unauthorized("Invalid or expired token")
        }
        return Caller(userID: claims.sub.value, organizationID: claims.org, role: role, credential: credential, sessionID: claims.sid)
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }

    /// Double-submit token, else an `Origin` (or `Referer`) naming this server or a trusted origin.
    func checkCSRF(_ request: Request) throws {
        if let header = request.headers[.xCSRFToken], let cookie = request.cookies[AuthCookie.csrf]?.value, !cookie.isEmpty,
            SecretTokens.constantTimeEquals(header, cookie)
        {
            return
        }
        if let source = request.headers[.origin] ?? request.headers[.referer], isTrusted(source: source, request: request) { return }
        throw APIError(
            .forbidden, code: "CSRF_FAILED", message: "Cookie-authenticated writes need a matching Origin or an X-CSRF-Token header")
    }

    /// The sign-in form's guard against login CSRF (a foreign page signing the victim's browser into
    /// the attacker's account): browsers send `Origin` on every cross-site form POST (`null` when the
    /// page hides its origin), so a request that names another origin is refused. One that names
    /// none comes from a non-browser client, which has no victim's cookies to abuse.
    func checkSignInOrigin(_ request: Request) throws {
        guard let source = request.headers[.origin] ?? request.headers[.referer] else { return }
        guard isTrusted(source: source, request: request) else {
            throw APIError(.forbidden, code: "CSRF_FAILED", message: "Sign in from this server's own sign-in page")
        }
    }

    /// True when `source` (an `Origin` or `Referer` value) is this server or a trusted origin.
    private func isTrusted(source: String, request: Request) -> Bool {
        let host = request.head.authority ?? request.headers[.host]
        guard let url = URLComponents(string: source), let sourceHost = url.host else { return false }
        let origin = url.port.map { "\(sourceHost):\($0)" } ?? sourceHost
        return origin == host || trustedOrigins.contains("\(url.scheme ?? "http")://\(origin)")
    }
}

extension HTTPField.Name {
    static let host = Self("Host")!
}
