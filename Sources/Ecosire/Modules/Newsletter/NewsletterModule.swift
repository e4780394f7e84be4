import Crypto
import Foundation
import HTTPTypes
import SQLKit

/// The newsletter with double opt-in: `subscribe` emails a single-use confirmation link,
/// `confirm` activates the subscription, `unsubscribe` takes a link signed by the server. The
/// public answers are the same whether or not an address is known.
struct NewsletterModule: Module {
    let platform: Platform
    let subscribers: ResourceStore
    let outbox: EmailOutbox
    /// Signs unsubscribe links.
    let unsubscribeKey: SymmetricKey

    /// A confirmation link is valid this long.
    static let confirmationLifetime: Int64 = 7 * 86_400_000
    /// A repeated subscribe of a pending address re-sends the confirmation only after this long.
    static let resendInterval: Int64 = 10 * 60_000

    static let resource = Resource(
        singular: "Subscriber", plural: "Subscribers", tag: "Newsletter", path: "/api/newsletter/subscribers",
        table: "newsletter_subscribers",
        fields: [
            ResourceField("email", schema: .email, required: true),
            ResourceField("name", schema: .string(maxLength: 200)),
            ResourceField("lists", schema: .array(.string(minLength: 1, maxLength: 50), maxItems: 20), storage: .json, default: []),
            ResourceField("status", schema: .enumeration(["pending", "subscribed", "unsubscribed"]), writable: false, default: "pending"),
            ResourceField("confirmationSentAt", schema: .dateTime, storage: .timestamp, writable: false),
            ResourceField("confirmedAt", schema: .dateTime, storage: .timestamp, writable: false),
            ResourceField("unsubscribedAt", schema: .dateTime, storage: .timestamp, writable: false),
        ],
        sortable: ["createdAt", "updatedAt", "email", "status"], searchable: ["email", "name"],
        filters: [
            .equals(
                "status", column: "status", schema: .enumeration(["pending", "subscribed", "unsubscribed"]),
                description: "Only subscribers in this state")
        ]
    )

    init(platform: Platform) {
        self.platform = platform
        self.subscribers = ResourceStore(resource: Self.resource, database: platform.database, clock: platform.clock)
        self.outbox = EmailOutbox(clock: platform.clock, secrets: platform.secrets)
        self.unsubscribeKey = platform.secrets.derivedKey(for: "newsletter-unsubscribe")
    }

    static let accepted: JSONValue = [
        "status": "pending_confirmation",
        "message": "If this address can receive the newsletter, a confirmation email is on its way. Follow its link to subscribe.",
    ]

    func register(on api: APIRouter) {
        ResourceRoutes(resource: subscribers.resource, store: subscribers).register(
            on: api, writeRole: .admin, readRole: .admin, routes: [.list, .get, .delete])
        registerUnsubscribePage(on: api)

        api.add(
            Operation(
                .post, "/api/newsletter/subscribe", id: "subscribeNewsletter", tag: "Public intake",
                summary: "Subscribe to the newsletter",
                description:
                    "Double opt-in: emails a confirmation link (valid 7 days, single use). The answer is the same whether the address is new, pending, subscribed or unsubscribed; a pending address gets a new link at most every 10 minutes. No authentication; limited per client address.",
                access: .open,
                body: .json(
                    Schema.object([
                        .init("email", .email, required: true), .init("name", .string(maxLength: 200)),
                        .init("lists", Schema.array(.string(minLength: 1, maxLength: 50), maxItems: 20).describe("Topics (default: none)")),
                    ]).named("NewsletterSubscribeRequest"), example: ["email": "ada@example.com", "name": "Ada", "lists": ["product-news"]]),
                responses: [
                    ResponseSpec(
                        202, "Accepted; check the mailbox",
                        schema: Schema.object([
                            .init("status", .enumeration(["pending_confirmation"]), required: true),
                            .init("message", .string(), required: true),
                        ]).named("NewsletterSubscribeReceipt"))
                ],
                errors: [503], rateLimit: .newsletter
            )
        ) { input in
            try await subscribe(input)
            return .json(Self.accepted, status: .accepted)
        }

        api.add(
            Operation(
                .get, "/api/newsletter/confirm", id: "confirmNewsletter", tag: "Public intake", summary: "Confirm a subscription",
                description: "The link from the confirmation email. Each token works once, within 7 days.", access: .open,
                query: [
                    QueryParameter("token", .string(minLength: 1, maxLength: 200), "The token from the confirmation email", required: true)
                ],
                responses: [
                    ResponseSpec(
                        200, "Subscribed",
                        schema: Schema.object([
                            .init("status", .enumeration(["subscribed"]), required: true), .init("email", .email, required: true),
                        ]).named("NewsletterConfirmation"))
                ],
                errors: [404], codes: ["INVALID_TOKEN"]
            )
        ) { input in
            let hash = SecretTokens.sha256Hex(input.query["token"] ?? "")
            let now = platform.clock.nowMillis()
            let confirmed = try await platform.database.transaction { sql -> (String, String)? in
                guard
                    let row = try await sql.raw(
                        """
                        UPDATE newsletter_subscribers SET status = 'subscribed', confirmed_at = \(bind: now), confirm_token_hash = NULL,
                            confirm_expires_at = NULL, updated_at = \(bind: now)
                        WHERE confirm_token_hash = \(bind: hash) AND status = 'pending' AND confirm_expires_at > \(bind: now)
                        RETURNING organization_id, email
                        """
                    ).first()
                else { return nil }
                let organizationID = try row.decode(column: "organization_id", as: String.self)
                let email = try row.decode(column: "email", as: String.self)
                let link = unsubscribeLink(organizationID: organizationID, email: email)
                try await outbox.enqueue(
                    sql, organizationID: organizationID, to: EmailAddress(address: email), subject: "You are subscribed",
                    text: """
                        Your subscription is confirmed. Thank you!

                        To stop receiving the newsletter, unsubscribe here (one click, no sign-in):
                        \(link)
                        """,
                    kind: "newsletter_welcome", headers: Self.unsubscribeHeaders(link))
                return (organizationID, email)
            }
            guard let confirmed else {
                throw APIError(
                    .notFound, code: "INVALID_TOKEN", message: "This confirmation link is unknown, expired or already used",
                    details: [FieldIssue(field: "token", message: "Unknown, expired or already used")])
            }
            return .json(["status": "subscribed", "email": .string(confirmed.1)])
        }

        api.add(
            Operation(
                .post, "/api/newsletter/unsubscribe", id: "unsubscribeNewsletter", tag: "Public intake",
                summary: "Unsubscribe from the newsletter",
                description:
                    "The signed link from any newsletter email (RFC 8058 one-click: a POST to the link, whatever its body). The answer is the same whether or not the address was subscribed.",
                access: .open,
                query: [
                    QueryParameter("email", .email, "The subscribed address", required: true),
                    QueryParameter("token", .string(minLength: 1, maxLength: 200), "The link's signature", required: true),
                ],
                responses: [
                    ResponseSpec(
                        200, "Unsubscribed",
                        schema: Schema.object([.init("status", .enumeration(["unsubscribed"]), required: true)]).named(
                            "NewsletterUnsubscription"))
                ],
                errors: [503]
            )
        ) { input in
            let email = (input.query["email"] ?? "").lowercased()
            let token = input.query["token"] ?? ""
            let now = platform.clock.nowMillis()
            try await platform.database.transaction { sql in
                let organizationID = try await platform.siteOrganizationID(sql)
                guard SecretTokens.constantTimeEquals(token, signature(organizationID: organizationID, email: email)) else {
                    throw APIError.validation(field: "token", "Not a valid unsubscribe link for this address")
                }
                try await sql.raw(
                    """
                    UPDATE newsletter_subscribers SET status = 'unsubscribed', unsubscribed_at = \(bind: now), confirm_token_hash = NULL,
                        confirm_expires_at = NULL, updated_at = \(bind: now)
                    WHERE organization_id = \(bind: organizationID) AND email = \(bind: email) AND status <> 'unsubscribed'
                    """
                ).run()
            }
            return .json(["status": "unsubscribed"])
        }
    }

    /// `GET` of the unsubscribe link (a click in a mail program): a page whose button POSTs the
    /// same link. A GET never unsubscribes, because mail scanners open links on their own.
    private func registerUnsubscribePage(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/api/newsletter/unsubscribe", id: "newsletterUnsubscribePage", tag: "Public intake",
                summary: "The unsubscribe page", description: "What opening the link shows; it changes nothing by itself.", access: .open,
                query: [
                    QueryParameter("email", .email, "The subscribed address", required: true),
                    QueryParameter("token", .string(minLength: 1, maxLength: 200), "The link's signature", required: true),
                ],
                responses: [ResponseSpec(200, "A page whose button sends the unsubscribe POST", schema: .string(), mediaType: "text/html")]
            )
        ) { input in
            func escaped(_ text: String) -> String {
                text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                    .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            }
            let email = input.query["email"] ?? ""
            let action = "/api/newsletter/unsubscribe?" + Self.unsubscribeQuery(email: email, token: input.query["token"] ?? "")
            let html = """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Unsubscribe</title></head><body>
                <h1>Unsubscribe</h1>
                <p>Stop sending the newsletter to <strong>\(escaped(email))</strong>?</p>
                <form method="post" action="\(escaped(action))"><button type="submit">Unsubscribe</button></form>
                </body></html>
                """
            return DocsModule.page(html, csp: "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
        }
    }

    // MARK: Subscribe

    private func subscribe(_ input: APIInput) async throws {
        let body = input.object
        let email = body["email"]?.stringValue?.lowercased() ?? ""
        let name = body["name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let lists = body["lists"] ?? .array([])
        let ip = platform.clientIP(input.request, input.context)
        let now = platform.clock.nowMillis()
        try await platform.database.transaction { sql in
            let organizationID = try await platform.siteOrganizationID(sql)
            let token = SecretTokens.base62(count: 43)
            let hash = SecretTokens.sha256Hex(token)
            let expires = now + Self.confirmationLifetime
            let inserted = try await sql.raw(
                """
                INSERT INTO newsletter_subscribers (id, organization_id, email, name, lists, status, confirm_token_hash, confirm_expires_at,
                    confirmation_sent_at, consent_ip, created_at, updated_at)
                VALUES (\(bind: UUIDv7.generate()), \(bind: organizationID), \(bind: email), \(bind: name), \(bind: lists.jsonString), 'pending',
                    \(bind: hash), \(bind: expires), \(bind: now), \(bind: ip), \(bind: now), \(bind: now))
                ON CONFLICT (organization_id, email) DO NOTHING
                RETURNING id
                """
            ).first()
            if inserted == nil {
                // Known address: a new link only for a lapsed subscription or a stale pending one.
                let renewed = try await sql.raw(
                    """
                    UPDATE newsletter_subscribers SET status = 'pending', confirm_token_hash = \(bind: hash), confirm_expires_at = \(bind: expires),
                        confirmation_sent_at = \(bind: now), consent_ip = \(bind: ip), lists = \(bind: lists.jsonString), updated_at = \(bind: now)
                    WHERE organization_id = \(bind: organizationID) AND email = \(bind: email)
                      AND (status = 'unsubscribed' OR (status = 'pending' AND confirmation_sent_at < \(bind: now - Self.resendInterval)))
                    RETURNING id
                    """
                ).first()
                guard renewed != nil else { return }
            }
            let link = platform.config.publicURL + "/api/newsletter/confirm?token=" + token
            try await outbox.enqueue(
                sql, organizationID: organizationID, to: EmailAddress(address: email, name: name),
                subject: "Confirm your newsletter subscription",
                text: """
                    Someone (we hope you) asked to receive our newsletter at this address.

                    Confirm the subscription within 7 days:
                    \(link)

                    If it was not you, ignore this email and nothing will be sent.
                    """,
                kind: "newsletter_confirmation", secret: token)
        }
    }

    // MARK: Signed unsubscribe links

    /// Base64url HMAC-SHA256 of the organization and address.
    func signature(organizationID: String, email: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data((organizationID + "\n" + email.lowercased()).utf8), using: unsubscribeKey)
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    func unsubscribeLink(organizationID: String, email: String) -> String {
        platform.config.publicURL + "/api/newsletter/unsubscribe?"
            + Self.unsubscribeQuery(email: email, token: signature(organizationID: organizationID, email: email))
    }

    /// `email=…&token=…`, percent-encoded.
    static func unsubscribeQuery(email: String, token: String) -> String {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "email", value: email), URLQueryItem(name: "token", value: token)]
        // `+` is a space to form decoders; keep it literal.
        return (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
    }

    static func unsubscribeHeaders(_ link: String) -> [(String, String)] {
        [("List-Unsubscribe", "<" + link + ">"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    }
}
