import Synchronization

/// What the client authenticates with: an API key, and an access token (from `login`, or given),
/// which wins while it lasts. Shared by every request of one client; refreshing is single-flight,
/// so concurrent requests that all meet an expired token cause one refresh.
final class Credentials: Sendable {
    /// The secret a request carries, and whether it is an access token (which may be refreshed).
    struct Credential {
        let secret: String
        let isAccessToken: Bool
    }

    private struct State {
        var apiKey: String?
        var accessToken: String?
        var refreshToken: String?
        var session: Components.Schemas.Session?
        var refreshing: Task<String?, Never>?
    }

    private let state: Mutex<State>

    init(apiKey: String?, accessToken: String?) {
        state = Mutex(State(apiKey: apiKey, accessToken: accessToken))
    }

    /// The credential for the next request.
    var current: Credential? {
        state.withLock { state in
            if let token = state.accessToken { return Credential(secret: token, isAccessToken: true) }
            return state.apiKey.map { Credential(secret: $0, isAccessToken: false) }
        }
    }

    /// The session from the last login or refresh.
    var session: Components.Schemas.Session? { state.withLock { $0.session } }

    /// Uses `session` for later requests (nil forgets it; the API key, if any, applies again).
    func store(_ session: Components.Schemas.Session?) {
        state.withLock { state in
            state.session = session
            state.accessToken = session?.token
            state.refreshToken = session?.refreshToken
        }
    }

    /// A new access token after `failed` was refused: the one another request already got, or the
    /// result of one refresh. Nil when there is no refresh token or the refresh failed (the session
    /// is then forgotten).
    func refreshedToken(
        replacing failed: String, using refresh: @escaping @Sendable (String) async throws -> Components.Schemas.Session
    ) async -> String? {
        let task: Task<String?, Never> = state.withLock { state in
            if let token = state.accessToken, token != failed { return Task { token } }
            if let running = state.refreshing { return running }
            guard let refreshToken = state.refreshToken else { return Task { nil } }
            let task = Task { [self] in
                let session = try? await refresh(refreshToken)
                self.state.withLock { state in
                    state.session = session
                    state.accessToken = session?.token
                    state.refreshToken = session?.refreshToken
                    state.refreshing = nil
                }
                return session?.token
            }
            state.refreshing = task
            return task
        }
        return await task.value
    }
}
