/// A user row with its organization.
struct UserRecord: Sendable {
    var id: String
    var organizationID: String
    var email: String
    var name: String
    var role: Role
    var passwordHash: String
    var createdAt: Int64
    var organizationName: String
    var organizationPlan: String

    /// `{id, email, name, role}` as in the login response.
    var summary: JSONValue {
        .object(["id": .string(id), "email": .string(email), "name": .string(name), "role": .string(role.rawValue)])
    }

    /// `GET /api/users/me`.
    var profile: JSONValue {
        .object([
            "id": .string(id), "email": .string(email), "name": .string(name), "role": .string(role.rawValue),
            "organization": .object(["id": .string(organizationID), "name": .string(organizationName), "plan": .string(organizationPlan)]),
            "createdAt": .string(Timestamp.iso(millis: createdAt)),
        ])
    }
}

/// Schemas of the identity resources.
enum IdentitySchemas {
    static let password = Schema.string(minLength: 8, maxLength: 72).describe("At least 8 characters (at most 72 bytes, the bcrypt limit)")
    static let name = Schema.string(minLength: 1, maxLength: 255)

    static let userSummary = Schema.object([
        .init("id", .uuid, required: true), .init("email", .email, required: true),
        .init("name", .string(), required: true), .init("role", .enumeration(Role.allCases.map(\.rawValue)), required: true),
    ]).named("UserSummary")

    static let session = Schema.object([
        .init("token", Schema.string().describe("Access token (JWT, EdDSA)"), required: true),
        .init("refreshToken", Schema.string().describe("Single-use refresh token"), required: true),
        .init("expiresIn", Schema.integer().describe("Access-token lifetime in seconds"), required: true),
        .init("user", userSummary, required: true),
    ]).named("Session")

    static let organization = Schema.object([
        .init("id", .uuid, required: true), .init("name", .string(), required: true),
        .init("plan", .enumeration(["free", "pro", "enterprise"]), required: true),
    ]).named("OrganizationSummary")

    static let profile = Schema.object([
        .init("id", .uuid, required: true), .init("email", .email, required: true),
        .init("name", .string(), required: true), .init("role", .enumeration(Role.allCases.map(\.rawValue)), required: true),
        .init("organization", organization, required: true), .init("createdAt", .dateTime, required: true),
    ]).named("UserProfile")

    static let register = Schema.object([
        .init("email", .email, required: true), .init("password", password, required: true),
        .init("name", name, required: true), .init("organizationName", name),
    ]).named("RegisterRequest").example([
        "email": "ada@example.com", "password": "correct-horse-battery", "name": "Ada Lovelace", "organizationName": "Analytical Engines",
    ])

    static let login = Schema.object([
        .init("email", Schema.string(minLength: 1, maxLength: 254), required: true),
        .init("password", Schema.string(minLength: 1, maxLength: 1024), required: true),
    ]).named("LoginRequest").example(["email": "user@example.com", "password": "secret"])

    static let refresh = Schema.object([
        .init("refreshToken", Schema.string(minLength: 1, maxLength: 512).describe("Optional when the ecosire_refresh cookie is sent"))
    ]).named("RefreshRequest")

    static let passwordResetRequest = Schema.object([.init("email", .email, required: true)]).named("PasswordResetRequest")
        .example(["email": "ada@example.com"])

    static let passwordResetConfirm = Schema.object([
        .init("token", Schema.string(minLength: 1, maxLength: 200).describe("The token from the reset email"), required: true),
        .init("password", password, required: true),
    ]).named("PasswordResetConfirmation")

    static let accepted = Schema.object([.init("message", .string(), required: true)]).named("Accepted")

    static let updateMe = Schema.object([
        .init("name", name), .init("password", password),
        .init("currentPassword", Schema.string(minLength: 1, maxLength: 1024).describe("Required to change the password")),
    ]).named("UpdateProfileRequest")
}
