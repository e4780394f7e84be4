import OpenAPIRuntime

extension AuthAPI {
    /// Signs in with email and password. Later calls of this client carry the access token (instead
    /// of the API key) and refresh it when it expires.
    ///
    /// `POST /api/auth/login`
    @discardableResult
    public func login(email: String, password: String) async throws -> Components.Schemas.Session {
        let session = try await core.perform { client in
            try await client.login(.init(body: .json(.init(email: email, password: password)))).ok.body.json
        }
        core.credentials.store(session)
        return session
    }

    /// Exchanges the session's refresh token for a new access and refresh token now (the client
    /// also does this by itself when a request meets an expired token).
    ///
    /// `POST /api/auth/refresh`
    @discardableResult
    public func refresh() async throws -> Components.Schemas.Session {
        let refreshToken = core.credentials.session?.refreshToken
        let session = try await core.perform { client in
            try await client.refreshToken(.init(body: .json(.init(refreshToken: refreshToken)))).ok.body.json
        }
        core.credentials.store(session)
        return session
    }

    /// Revokes the session's refresh token and forgets the session (the API key, if any, applies again).
    ///
    /// `POST /api/auth/logout`
    public func logout() async throws {
        let refreshToken = core.credentials.session?.refreshToken
        defer { core.credentials.store(nil) }
        _ = try await core.perform { client in
            try await client.logout(.init(body: .json(.init(refreshToken: refreshToken)))).noContent
        }
    }
}
