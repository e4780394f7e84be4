import HTTPTypes

/// Who may call an operation.
public enum Access: Sendable {
    /// No credentials needed.
    case open
    /// Any authenticated caller whose role is at least `minimumRole`.
    case authenticated(minimumRole: Role = .viewer)

    public static var authenticated: Access { .authenticated() }
}

/// A query parameter an operation accepts. Any other query parameter is a 400.
public struct QueryParameter: Sendable {
    public var name: String
    public var schema: Schema
    public var description: String
    public var required: Bool

    public init(_ name: String, _ schema: Schema, _ description: String, required: Bool = false) {
        self.name = name
        self.schema = schema
        self.description = description
        self.required = required
    }
}

/// What an operation accepts as its body.
public enum RequestBodySpec: Sendable {
    /// `application/json` checked against the schema before the handler runs.
    case json(Schema, required: Bool = true, example: JSONValue? = nil)
    /// Raw text of the given media type (CSV import), read up to the body limit.
    case text(mediaType: String, description: String, example: String? = nil)
    /// A body the handler reads itself (streamed uploads, signed webhooks whose exact bytes
    /// matter), documented with this schema and media type.
    case raw(Schema, mediaType: String, description: String)
}

/// One documented response.
public struct ResponseSpec: Sendable {
    public var status: Int
    public var description: String
    public var schema: Schema?
    public var mediaType: String
    public var headers: [String: String]

    public init(
        _ status: Int, _ description: String, schema: Schema? = nil, mediaType: String = "application/json", headers: [String: String] = [:]
    ) {
        self.status = status
        self.description = description
        self.schema = schema
        self.mediaType = mediaType
        self.headers = headers
    }
}

/// A route together with everything the OpenAPI document says about it.
public struct Operation: Sendable {
    public var method: HTTPRequest.Method
    /// OpenAPI-style path: `/api/contacts/{id}`.
    public var path: String
    public var operationID: String
    public var tag: String
    public var summary: String
    public var description: String?
    public var access: Access
    public var query: [QueryParameter]
    public var body: RequestBodySpec?
    public var responses: [ResponseSpec]
    /// Error statuses this operation can answer besides the ones every operation can.
    public var errors: Set<Int>
    /// Hidden from the OpenAPI document (HTML pages, the document itself).
    public var undocumented: Bool
    /// The API-key scope needed, when it is not the default (see `requiredScope`).
    public var scope: KeyScope?
    /// The rate-limit class; authenticated operations default to `.standard`, open ones to none.
    public var rateLimit: RateLimitClass?
    /// Members added to every error this operation answers (`success: false` on the API-keys resource).
    public var errorExtras: JSONObject
    /// The answer carries a secret (tokens, an API key), so it is never stored for `Idempotency-Key`
    /// replays; such operations refuse the header instead.
    public var returnsSecret: Bool
    /// The handler calls another service (Stripe, the AI provider) that a database rollback cannot
    /// undo. Its `Idempotency-Key` answer is stored after it returns instead of in the transaction
    /// of its writes, and no transaction is held open while the other service answers.
    public var callsOtherServices: Bool

    public init(
        _ method: HTTPRequest.Method,
        _ path: String,
        id operationID: String,
        tag: String,
        summary: String,
        description: String? = nil,
        access: Access = .authenticated,
        query: [QueryParameter] = [],
        body: RequestBodySpec? = nil,
        responses: [ResponseSpec],
        errors: Set<Int> = [],
        undocumented: Bool = false,
        scope: KeyScope? = nil,
        rateLimit: RateLimitClass? = nil,
        errorExtras: JSONObject = JSONObject(),
        returnsSecret: Bool = false,
        callsOtherServices: Bool = false
    ) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.tag = tag
        self.summary = summary
        self.description = description
        self.access = access
        self.query = query
        self.body = body
        self.responses = responses
        self.errors = errors
        self.undocumented = undocumented
        self.scope = scope
        self.rateLimit = rateLimit
        self.errorExtras = errorExtras
        self.returnsSecret = returnsSecret
        self.callsOtherServices = callsOtherServices
    }

    /// POSTs take `Idempotency-Key`, except those whose answer carries a secret and those that read
    /// their own body (uploads and webhooks: the body is not there to compare a retry with).
    public var acceptsIdempotencyKey: Bool {
        guard method == .post, !returnsSecret else { return false }
        if case .raw? = body { return false }
        return true
    }

    /// Answers that carry secrets or one caller's data must not be kept by browsers or shared
    /// proxies (`Cache-Control: no-store`): everything that needs credentials or returns a secret.
    public var keepsAnswersOutOfCaches: Bool {
        if returnsSecret { return true }
        if case .authenticated = access { return true }
        return false
    }

    /// The scope an API key needs: admin routes need `admin`, reads `read_only`, other writes
    /// `read_write`. Sessions (JWT, cookie) are not scoped.
    public var requiredScope: KeyScope {
        if let scope { return scope }
        if case .authenticated(let role) = access, role >= .admin { return .admin }
        return method == .get || method == .head ? .readOnly : .readWrite
    }

    /// The rate-limit class in force.
    public var effectiveRateLimit: RateLimitClass? {
        if let rateLimit { return rateLimit }
        if case .authenticated = access { return .standard }
        return nil
    }

    /// The path parameter names, in order.
    public var pathParameters: [String] {
        path.split(separator: "/").compactMap { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? String(segment.dropFirst().dropLast()) : nil
        }
    }

    /// The Hummingbird route path (`/api/contacts/:id`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : String(segment)
        }.joined(separator: "/")
    }

    /// Every error status the operation can produce, for the document.
    var errorStatuses: [Int] {
        var statuses: Set<Int> = [400, 500]
        statuses.formUnion(errors)
        if case .authenticated = access { statuses.formUnion([401, 403]) }
        if effectiveRateLimit != nil { statuses.insert(429) }
        if acceptsIdempotencyKey { statuses.formUnion([409, 422]) }
        if !pathParameters.isEmpty { statuses.insert(404) }
        if let body {
            statuses.formUnion([413, 415])
            if case .json = body { statuses.insert(422) }
        }
        return statuses.sorted()
    }

    /// True when `requestPath` matches this operation's path template.
    func matches(path requestPath: String) -> Bool {
        let pattern = path.split(separator: "/")
        let actual = requestPath.split(separator: "/")
        guard pattern.count == actual.count else { return false }
        return zip(pattern, actual).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}
