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

/// The authenticated principal of a request: the same shape whichever way they signed in.
public struct Caller: Sendable {
    public var userID: String
    public var organizationID: String
    public var role: Role
    public var credential: CredentialKind
    /// The session (refresh-token family) a JWT belongs to, for logout.
    public var sessionID: String?

    public init(userID: String, organizationID: String, role: Role, credential: CredentialKind, sessionID: String? = nil) {
        self.userID = userID
        self.organizationID = organizationID
        self.role = role
        self.credential = credential
        self.sessionID = sessionID
    }

    /// Throws 403 unless the caller's role is at least `minimum`.
    public func require(role minimum: Role) throws {
        guard role >= minimum else { throw APIError.forbidden("This action needs the \(minimum.rawValue) role") }
    }
}
