/// A role inside an organization, from most to least powerful.
public enum Role: String, Sendable, CaseIterable, Comparable {
    case owner, admin, member, viewer

    private var rank: Int {
        switch self {
        case .owner: 3
        case .admin: 2
        case .member: 1
        case .viewer: 0
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// How the caller proved who they are.
public enum CredentialKind: String, Sendable {
    case bearerToken = "jwt"
    case cookie
    case apiKey = "api_key"
}

/// What an API key may do, on top of its owner's role.
public enum KeyScope: String, Sendable, CaseIterable, Comparable {
    /// GET and HEAD only.
    case readOnly = "read_only"
    /// Everything except key administration and admin routes.
    case readWrite = "read_write"
    /// Everything the owner's role allows.
    case admin

    private var rank: Int {
        switch self {
        case .readOnly: 0
        case .readWrite: 1
        case .admin: 2
        }
    }

    public static func < (lhs: KeyScope, rhs: KeyScope) -> Bool { lhs.rank < rhs.rank }
}

/// The API key a request was made with.
public struct CallerKey: Sendable {
    public var id: String
    public var scope: KeyScope
    /// `live` or `test`; live keys' requests are audited.
    public var environment: String
}

/// The authenticated principal of a request: the same shape whichever way they signed in.
public struct Caller: Sendable {
    public var userID: String
    public var organizationID: String
    public var role: Role
    public var credential: CredentialKind
    /// The session (refresh-token family) a JWT belongs to, for logout.
    public var sessionID: String?
    /// Set when the request was made with an API key.
    public var key: CallerKey?

    public init(
        userID: String, organizationID: String, role: Role, credential: CredentialKind, sessionID: String? = nil, key: CallerKey? = nil
    ) {
        self.userID = userID
        self.organizationID = organizationID
        self.role = role
        self.credential = credential
        self.sessionID = sessionID
        self.key = key
    }

    /// Who counts as "the caller" for rate limits and idempotency: the key, else the user.
    public var limitKey: String { key.map { "key:" + $0.id } ?? "user:" + userID }

    /// Throws 403 unless the caller's role is at least `minimum`.
    public func require(role minimum: Role) throws {
        guard role >= minimum else { throw APIError.forbidden("This action needs the \(minimum.rawValue) role") }
    }

    /// Throws 403 when an API key's scope is below `minimum` (sessions are not scoped).
    public func require(scope minimum: KeyScope) throws {
        guard let key, key.scope < minimum else { return }
        throw APIError.forbidden("This API key's scope (\(key.scope.rawValue)) does not allow this request; it needs \(minimum.rawValue)")
    }
}
