import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SQLKit

/// Licenses: the caller's licenses, the open validate/activate/deactivate calls of installed
/// software (signed both ways), and the admin actions.
struct LicensesModule: Module {
    let platform: Platform
    let service: LicenseService
    let signatures: LicenseSignatures
    let catalog: ProductCatalog
    let validations: LicenseValidationLog

    // MARK: Schemas

    static let license = Schema.object([
        .init("id", .uuid, required: true), .init("key", .string(), required: true), .init("productId", .uuid, required: true),
        .init("status", .enumeration(["active", "expired", "suspended", "revoked"]), required: true),
        .init("statusReason", Schema.string().orNull(), required: true),
        .init("activationsCount", .integer(minimum: 0), required: true), .init("activationsLimit", .integer(minimum: 1), required: true),
        .init("expiresAt", Schema.dateTime.orNull(), required: true), .init("updatesUntil", Schema.dateTime.orNull(), required: true),
        .init("ownerUserId", Schema.uuid.orNull(), required: true), .init("contactId", Schema.uuid.orNull(), required: true),
        .init("orderId", Schema.uuid.orNull(), required: true), .init("subscriptionId", Schema.uuid.orNull(), required: true),
        .init("organizationId", .uuid, required: true), .init("createdAt", .dateTime, required: true),
        .init("updatedAt", .dateTime, required: true),
    ]).named("License")

    static let summary = Schema.object([
        .init("key", .string(), required: true), .init("status", .string(), required: true),
        .init("expiresAt", Schema.dateTime.orNull(), required: true), .init("productId", .uuid, required: true),
    ]).named("LicenseSummary")

    static let checkRequest = Schema.object([
        .init("key", Schema.string(minLength: 1, maxLength: 64).describe("PREFIX-XXXX-XXXX-XXXX-XXXX"), required: true),
        .init(
            "domain",
            Schema.string(minLength: 1, maxLength: 253).matching("^[A-Za-z0-9][A-Za-z0-9.:_-]*$").describe(
                "The installation's domain (or machine id)"), required: true),
        .init("timestamp", timestamp),
    ]).named("LicenseCheckRequest")

    /// Unix seconds as an integer or, as the license guide's client sends it (`str(int(time.time()))`),
    /// as a string of digits. The signature covers the value exactly as sent.
    static let timestamp = Schema.oneOf([
        Schema.integer(minimum: 0, maximum: LicenseSignatures.maximumTimestamp),
        Schema.string(minLength: 1, maxLength: 11).matching("^[0-9]{1,11}$"),
    ]).describe(
        "Unix seconds, as an integer or as a string of digits (the license guide sends `str(int(time.time()))`); required when the request is signed. The signature covers the digits exactly as sent."
    ).named("LicenseTimestamp")

    static let validateResult = Schema.object([
        .init("valid", .boolean, required: true), .init("license", summary, required: true),
        .init("activated", Schema.boolean.describe("Whether the domain holds an activation"), required: true),
        .init("activationsCount", .integer(minimum: 0), required: true), .init("activationsLimit", .integer(minimum: 1), required: true),
        .init("reason", .string()),
    ]).named("LicenseValidation")

    static let activateResult = Schema.object([
        .init("activated", .boolean, required: true), .init("activationsCount", .integer(minimum: 0), required: true),
        .init("activationsLimit", .integer(minimum: 1), required: true), .init("domain", .string(), required: true),
        .init("license", summary, required: true),
    ]).named("LicenseActivation")

    static let deactivateResult = Schema.object([
        .init("deactivated", .boolean, required: true), .init("activationsCount", .integer(minimum: 0), required: true),
        .init("domain", .string(), required: true),
    ]).named("LicenseDeactivation")

    static let activation = Schema.object([
        .init("id", .uuid, required: true), .init("domain", .string(), required: true), .init("active", .boolean, required: true),
        .init("activatedAt", .dateTime, required: true), .init("deactivatedAt", Schema.dateTime.orNull(), required: true),
        .init("lastValidatedAt", Schema.dateTime.orNull(), required: true),
    ]).named("LicenseActivationRecord")

    static let signedHeaders = [
        "X-Ecosire-Signature": "Hex HMAC-SHA256 of the body with ECOSIRE_LICENSE_SECRET",
        "X-Ecosire-Signature-Ed25519": "Base64 Ed25519 signature of the body (key at GET /api/licenses/signing-key)",
        "X-Ecosire-Key-Id": "Id of the Ed25519 key",
    ]

    /// What a check answers for an unusable or unknown license, or a bad signature.
    static let refusals: Set<String> = [
        "INVALID_SIGNATURE", "LICENSE_NOT_FOUND", "LICENSE_EXPIRED", "LICENSE_REVOKED", "LICENSE_SUSPENDED",
    ]

    static let signatureNote =
        " Callable without credentials. When the request carries `X-Ecosire-Signature`, it must be the hex HMAC-SHA256 with ECOSIRE_LICENSE_SECRET of the body's fields sorted by name and joined as k=v with &, and `timestamp` must be within 5 minutes (LICENSE_SIGNATURE_REQUIRED=true makes the signature mandatory). Answers are signed with the same secret and with Ed25519."

    // MARK: Events

    var eventTypes: [EventType] {
        let withDomain = Schema.object([
            .init("license", Self.license, required: true), .init("domain", .string(), required: true),
        ])
        let validated = Schema.object([
            .init("license", Self.license, required: true), .init("domain", .string(), required: true),
            .init("activated", Schema.boolean.describe("Whether the domain holds an activation"), required: true),
            .init(
                "count", Schema.integer(minimum: 1).describe("Validations from this domain in the interval the event covers"),
                required: true),
        ])
        var validatedExample = validated.sample().objectValue ?? JSONObject()
        validatedExample["domain"] = "shop.example.com"
        var withDomainExample = withDomain.sample().objectValue ?? JSONObject()
        withDomainExample["domain"] = "shop.example.com"
        func license(_ type: String, _ description: String, _ trigger: String) -> EventType {
            EventType(type, description: description, trigger: trigger, schema: Self.license)
        }
        return [
            license("license.created", "A license was issued.", "An order is confirmed or paid, or an admin grants a license."),
            EventType(
                "license.validated", description: "Installed software validated a license key.",
                trigger:
                    "POST /api/licenses/validate. Validations of one license from one domain are batched: at most one event per second, carrying their count.",
                schema: validated, example: .object(validatedExample)),
            EventType(
                "license.activated", description: "A license was activated on a domain.",
                trigger: "POST /api/licenses/activate for a new domain.",
                schema: withDomain, example: .object(withDomainExample)),
            EventType(
                "license.deactivated", description: "A domain released its activation.", trigger: "POST /api/licenses/deactivate.",
                schema: withDomain, example: .object(withDomainExample)),
            license(
                "license.revoked", "A license was revoked for good.",
                "An admin revokes it, its order is cancelled, or its payment is refunded in full."),
            license("license.suspended", "A license was suspended.", "An admin suspends it, or its subscription becomes past due."),
            license(
                "license.reinstated", "A suspended license is active again.", "An admin reinstates it, or the overdue payment arrives."),
        ]
    }

    // MARK: Routes

    func register(on api: APIRouter) {
        let listEnvelope = Schema.object([
            .init("data", .array(Self.license), required: true), .init("meta", PageMeta.schema, required: true),
        ])
        .named("LicenseList")
        api.add(
            Operation(
                .get, "/api/licenses", id: "listLicenses", tag: "Licenses", summary: "The caller's licenses",
                description:
                    "A bare array (newest first, at most 1000) unless `page` or `limit` is given, which answers the standard {data, meta} envelope. Admins and owners see the organization's licenses; other members see the licenses they hold.",
                query: Array(ListQuery.parameters(sortable: ["createdAt", "expiresAt"], searchable: []).prefix(4)) + [
                    QueryParameter("productId", .uuid, "Only licenses of this product"),
                    QueryParameter("status", .enumeration(["active", "expired", "suspended", "revoked"]), "Only licenses in this status"),
                ],
                responses: [ResponseSpec(200, "The licenses", schema: .oneOf([.array(Self.license), listEnvelope]))]
            )
        ) { input in try await list(input) }

        api.add(
            Operation(
                .post, "/api/licenses", id: "grantLicense", tag: "Licenses", summary: "Grant a license by hand",
                description: "Issues a license for a product under its license policy; the body may override the limit and expiry.",
                access: .authenticated(minimumRole: .admin),
                body: .json(
                    Schema.object([
                        .init("productId", .uuid, required: true), .init("ownerUserId", .uuid), .init("contactId", .uuid),
                        .init("activationsLimit", .integer(minimum: 1, maximum: 100_000)), .init("expiresAt", Schema.dateTime.orNull()),
                    ]).named("GrantLicenseRequest")),
                responses: [ResponseSpec(201, "The license", schema: Self.license, headers: ["Location": "URL of the license"])]
            )
        ) { input in try await grant(input) }

        api.add(
            Operation(
                .get, "/api/licenses/signing-key", id: "getLicenseSigningKey", tag: "Licenses",
                summary: "The public key that signs license answers", access: .open,
                responses: [
                    ResponseSpec(
                        200, "The Ed25519 public key",
                        schema: Schema.object([
                            .init("algorithm", .string(), required: true), .init("keyId", .string(), required: true),
                            .init("publicKey", Schema.string().describe("Base64 raw 32-byte key"), required: true),
                            .init("publicKeyPem", .string(), required: true), .init("signedHeaders", .array(.string()), required: true),
                        ]).named("LicenseSigningKey"))
                ]
            )
        ) { _ in .json(signatures.publicKey) }

        api.add(
            Operation(
                .get, "/api/licenses/{id}", id: "getLicense", tag: "Licenses", summary: "Get a license",
                responses: [ResponseSpec(200, "The license", schema: Self.license)]
            )
        ) { input in
            let caller = try input.caller
            return .json(try await visibleLicense(caller, input.path("id")).json(now: platform.clock.nowMillis()))
        }

        api.add(
            Operation(
                .get, "/api/licenses/{id}/activations", id: "listLicenseActivations", tag: "Licenses",
                summary: "A license's activations", description: "Current and past activations, newest first.",
                query: Array(ListQuery.parameters(sortable: ["activatedAt"], searchable: []).prefix(2)),
                responses: [
                    ResponseSpec(
                        200, "One page of activations",
                        schema: Schema.object([
                            .init("data", .array(Self.activation), required: true), .init("meta", PageMeta.schema, required: true),
                        ]).named("LicenseActivationList"))
                ]
            )
        ) { input in try await activations(input) }

        for (action, status, event, allowed, summary) in [
            ("revoke", "revoked", "license.revoked", ["active", "suspended", "expired"], "Revoke a license (permanent)"),
            ("suspend", "suspended", "license.suspended", ["active"], "Suspend a license"),
            ("reinstate", "active", "license.reinstated", ["suspended"], "Reinstate a suspended license"),
        ] {
            api.add(
                Operation(
                    .post, "/api/licenses/{id}/\(action)", id: "\(action)License", tag: "Licenses", summary: summary,
                    description: "Allowed from: \(allowed.joined(separator: ", ")); otherwise 409 INVALID_STATE naming the current status.",
                    access: .authenticated(minimumRole: .admin),
                    responses: [ResponseSpec(200, "The license", schema: Self.license)], errors: [409]
                )
            ) { input in
                let caller = try input.caller
                let id = input.path("id")
                let now = platform.clock.nowMillis()
                let changed = try await platform.database.transaction { sql -> License in
                    guard let license = try await service.find(sql, organizationID: caller.organizationID, id: id) else {
                        throw APIError.notFound("License not found")
                    }
                    try APIError.requireStatus(license.status(now: now), in: allowed, action: action, noun: "a license")
                    return try await service.setStatus(sql, license: license, status: status, reason: "manual", event: event)
                }
                service.forget(key: changed.key)  // again, now that the change is committed
                return .json(changed.json(now: now))
            }
        }

        addCheck(
            api, .post, "/api/licenses/validate", id: "validateLicense", summary: "Validate a license key", rateClass: .licenseValidate,
            schema: Self.validateResult, errors: [401, 403, 404], codes: Self.refusals
        ) { body, domain in try await validate(body, domain: domain) }
        addCheck(
            api, .post, "/api/licenses/activate", id: "activateLicense", summary: "Activate a license on a domain",
            rateClass: .licenseActivate, schema: Self.activateResult, errors: [401, 403, 404, 409],
            codes: Self.refusals.union(["ACTIVATION_LIMIT_REACHED"])
        ) { body, domain in
            try await activate(body, domain: domain)
        }
        addCheck(
            api, .post, "/api/licenses/deactivate", id: "deactivateLicense", summary: "Release a domain's activation",
            rateClass: .licenseActivate, schema: Self.deactivateResult, errors: [401, 404],
            codes: ["INVALID_SIGNATURE", "LICENSE_NOT_FOUND", "ACTIVATION_NOT_FOUND"]
        ) { body, domain in
            try await deactivate(body, domain: domain)
        }
    }

    /// The three calls of installed software share their checks: rate limit per key + IP, the
    /// request signature, and signed answers.
    private func addCheck(
        _ api: APIRouter, _ method: HTTPRequest.Method, _ path: String, id: String, summary: String, rateClass: RateLimitClass,
        schema: Schema, errors: Set<Int>, codes: Set<String>, work: @escaping @Sendable (JSONObject, String) async throws -> JSONValue
    ) {
        let limitNote = " Limited to \(platform.config.rateLimits.limit(for: rateClass)) requests per minute per license key and IP."
        var headers = Self.signedHeaders
        headers.merge(RateLimitHeaders.documented) { current, _ in current }
        api.add(
            Operation(
                method, path, id: id, tag: "Licenses", summary: summary, description: Self.signatureNote + limitNote, access: .open,
                body: .json(
                    Self.checkRequest, example: ["key": "SHOP-A1B2-C3D4-E5F6-G7H8", "domain": "mysite.com", "timestamp": "1710000000"]),
                responses: [ResponseSpec(200, "The result, signed", schema: schema, headers: headers)],
                errors: errors.union([429]),
                requestHeaders: [
                    "X-Ecosire-Signature":
                        "Hex HMAC-SHA256 with ECOSIRE_LICENSE_SECRET of `domain=…&key=…&timestamp=…` (the body's fields sorted by name, values as sent); required when LICENSE_SIGNATURE_REQUIRED=true"
                ],
                codes: codes.union(["RATE_LIMITED"])
            )
        ) { input in
            let body = input.object
            let key = body["key"]!.stringValue!.trimmingCharacters(in: .whitespaces).uppercased()
            let domain = body["domain"]!.stringValue!.lowercased()
            var limitHeaders = HTTPFields()
            try await platform.enforceLimits(
                [(rateClass, subject: "ip:\(platform.clientIP(input.request, input.context)):\(key)")], context: input.context
            )?.apply(to: &limitHeaders, now: Int64(platform.clock.now().timeIntervalSince1970))
            do {
                try signatures.verifyRequest(body, signature: input.request.headers[.xEcosireSignature])
                var normalized = body
                normalized["key"] = .string(key)
                let result = try await work(normalized, domain)
                let text = result.jsonString
                var response = Response.json(serialized: ByteBuffer(string: text))
                for (name, value) in try signatures.responseHeaders(for: text) { response.headers[HTTPField.Name(name)!] = value }
                response.headers.append(contentsOf: limitHeaders)
                return response
            } catch var error as APIError {
                for field in limitHeaders where error.headers[field.name] == nil { error.headers.append(field) }
                throw error
            }
        }
    }

    // MARK: Installed software

    /// Runs `work` in one transaction on the license with `key`, row-locked (PostgreSQL); 404 when
    /// there is none. The one-second validation view of the key is dropped afterwards.
    private func changeLicense(key: String, work: @escaping @Sendable (any SQLDatabase, License) async throws -> JSONValue) async throws
        -> JSONValue
    {
        let service = self.service
        defer { service.forget(key: key) }
        return try await platform.database.transaction { sql in
            guard let license = try await service.findForUpdate(sql, key: key) else { throw License.notFound }
            return try await work(sql, license)
        }
    }

    /// A 403 for an unusable license, carrying the validate shape too (`valid: false`, `reason`).
    private func refuse(_ license: License, now: Int64) throws {
        guard var refusal = license.refusal(now: now) else { return }
        refusal.extra = ["valid": false, "reason": .string(refusal.message), "license": license.summary(now: now)]
        throw refusal
    }

    /// No write: the license comes from `LicenseService`'s one-second view (or one read), and the
    /// validation is recorded by `LicenseValidationLog` in batches.
    private func validate(_ body: JSONObject, domain: String) async throws -> JSONValue {
        guard let view = try await service.validationView(key: body["key"]!.stringValue!) else { throw License.notFound }
        let license = view.license
        let activated = view.activeDomains.contains(domain)
        let now = platform.clock.nowMillis()
        try refuse(license, now: now)
        validations.record(license, domain: domain, activated: activated)
        return .object([
            "valid": true, "license": license.summary(now: now), "activated": .bool(activated),
            "activationsCount": .int(Int64(license.activationsCount)), "activationsLimit": .int(Int64(license.activationsLimit)),
        ])
    }

    private func activate(_ body: JSONObject, domain: String) async throws -> JSONValue {
        let key = body["key"]!.stringValue!
        let now = platform.clock.nowMillis()
        let service = self.service
        return try await changeLicense(key: key) { sql, license in
            var license = license
            try refuse(license, now: now)
            let existing = try await sql.raw(
                """
                SELECT id FROM license_activations WHERE license_id = \(bind: license.id) AND domain = \(bind: domain) AND deactivated_at IS NULL
                """
            ).first()
            if existing == nil {
                guard license.activationsCount < license.activationsLimit else {
                    throw APIError(
                        .conflict, code: "ACTIVATION_LIMIT_REACHED", message: "Activation limit reached",
                        extra: [
                            "activationsCount": .int(Int64(license.activationsCount)),
                            "activationsLimit": .int(Int64(license.activationsLimit)),
                        ])
                }
                try await sql.raw(
                    """
                    INSERT INTO license_activations (id, license_id, domain, activated_at)
                    VALUES (\(bind: UUIDv7.generate()), \(bind: license.id), \(bind: domain), \(bind: now))
                    """
                ).run()
                try await sql.raw(
                    """
                    UPDATE licenses SET activations_count = activations_count + 1, updated_at = \(bind: now) WHERE id = \(bind: license.id)
                    """
                ).run()
                license.activationsCount += 1
                license.updatedAt = now
                try await service.outbox.record(
                    sql, organizationID: license.organizationID, type: "license.activated",
                    object: .object(["license": license.json(now: now), "domain": .string(domain)]))
            }
            return .object([
                "activated": true, "activationsCount": .int(Int64(license.activationsCount)),
                "activationsLimit": .int(Int64(license.activationsLimit)), "domain": .string(domain), "license": license.summary(now: now),
            ])
        }
    }

    private func deactivate(_ body: JSONObject, domain: String) async throws -> JSONValue {
        let key = body["key"]!.stringValue!
        let now = platform.clock.nowMillis()
        let service = self.service
        return try await changeLicense(key: key) { sql, license in
            var license = license
            let released = try await sql.raw(
                """
                UPDATE license_activations SET deactivated_at = \(bind: now)
                WHERE license_id = \(bind: license.id) AND domain = \(bind: domain) AND deactivated_at IS NULL
                RETURNING id
                """
            ).first()
            guard released != nil else {
                throw APIError(.notFound, code: "ACTIVATION_NOT_FOUND", message: "This domain holds no activation of the license")
            }
            try await sql.raw(
                "UPDATE licenses SET activations_count = activations_count - 1, updated_at = \(bind: now) WHERE id = \(bind: license.id)"
            ).run()
            license.activationsCount -= 1
            license.updatedAt = now
            try await service.outbox.record(
                sql, organizationID: license.organizationID, type: "license.deactivated",
                object: .object(["license": license.json(now: now), "domain": .string(domain)]))
            return .object(["deactivated": true, "activationsCount": .int(Int64(license.activationsCount)), "domain": .string(domain)])
        }
    }

    // MARK: Caller's licenses

    private func visibleLicense(_ caller: Caller, _ id: String) async throws -> License {
        let row = try await platform.database.readRows(
            "SELECT \(unsafeRaw: License.columns) FROM licenses WHERE id = \(bind: id) AND \(caller.ownedRows(userColumn: "owner_user_id"))"
        ).first
        guard let row else { throw APIError.notFound("License not found") }
        return try License(row: row)
    }

    private func list(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let now = platform.clock.nowMillis()
        var conditions: [SQLQueryString] = [caller.ownedRows(userColumn: "owner_user_id")]
        if let product = input.query["productId"] { conditions.append("product_id = \(bind: product.lowercased())") }
        switch input.query["status"] {
        case "active"?: conditions.append("status = 'active' AND (expires_at IS NULL OR expires_at > \(bind: now))")
        case "expired"?: conditions.append("status = 'active' AND expires_at <= \(bind: now)")
        case let status?: conditions.append("status = \(bind: status)")
        case nil: break
        }
        let whereClause = SQLList(conditions, separator: SQLRaw(" AND "))
        let paged = input.query["page"] != nil || input.query["limit"] != nil
        let query = ListQuery(input)
        let sort = query.sortBy == "expiresAt" ? "expires_at" : "created_at"
        let direction = query.descending ? "DESC" : "ASC"
        let window: SQLQueryString = paged ? query.limitClause : "LIMIT 1000"
        let rows = try await platform.database.readRows(
            """
            SELECT \(unsafeRaw: License.columns) FROM licenses WHERE \(whereClause)
            ORDER BY \(unsafeRaw: sort) \(unsafeRaw: direction), id \(unsafeRaw: direction) \(window)
            """
        )
        let licenses = try rows.map { try License(row: $0).json(now: now) }
        guard paged else { return .json(.array(licenses)) }
        let total = try await platform.database.readRows("SELECT COUNT(*) AS n FROM licenses WHERE \(whereClause)").first?.integer("n") ?? 0
        return .json(PageMeta.envelope(licenses, total: Int(total), query: query))
    }

    private func grant(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let body = input.object
        let productID = body["productId"]!.stringValue!.lowercased()
        let expiresAt = body["expiresAt"]?.stringValue.flatMap(Validators.parseDateTime).map { Int64($0.timeIntervalSince1970 * 1000) }
        if let expiresAt, expiresAt <= platform.clock.nowMillis() {
            throw APIError.validation(field: "expiresAt", "Must be in the future")
        }
        let catalog = self.catalog
        let service = self.service
        let license = try await platform.database.transaction { sql -> License in
            guard let product = try await catalog.product(sql, organizationID: caller.organizationID, id: productID) else {
                throw APIError.validation(field: "productId", "No such product")
            }
            if let owner = body["ownerUserId"]?.stringValue?.lowercased() {
                let member = try await sql.raw(
                    "SELECT id FROM users WHERE id = \(bind: owner) AND organization_id = \(bind: caller.organizationID)"
                ).first()
                guard member != nil else { throw APIError.validation(field: "ownerUserId", "No such user in your organization") }
            }
            if let contact = body["contactId"]?.stringValue?.lowercased() {
                let found = try await sql.raw(
                    "SELECT id FROM contacts WHERE id = \(bind: contact) AND organization_id = \(bind: caller.organizationID)"
                ).first()
                guard found != nil else { throw APIError.validation(field: "contactId", "No such contact") }
            }
            return try await service.issue(
                sql, organizationID: caller.organizationID,
                grant: LicenseGrant(
                    productID: product.id, policy: product.licensePolicy, ownerUserID: body["ownerUserId"]?.stringValue?.lowercased(),
                    contactID: body["contactId"]?.stringValue?.lowercased(), expiresAt: expiresAt,
                    activationsLimit: body["activationsLimit"]?.intValue.map(Int.init)))
        }
        return .created(license.json(now: platform.clock.nowMillis()), location: "/api/licenses/\(license.id)")
    }

    private func activations(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let license = try await visibleLicense(caller, input.path("id"))
        let query = ListQuery(input, defaultSort: "activatedAt")
        let direction = query.descending ? "DESC" : "ASC"
        let rows = try await platform.database.readRows(
            """
            SELECT id, domain, activated_at, deactivated_at, last_validated_at FROM license_activations WHERE license_id = \(bind: license.id)
            ORDER BY activated_at \(unsafeRaw: direction), id \(unsafeRaw: direction) \(query.limitClause)
            """
        )
        let total =
            try await platform.database.readRows("SELECT COUNT(*) AS n FROM license_activations WHERE license_id = \(bind: license.id)")
            .first?.integer("n") ?? 0
        let entries = try rows.map { row -> JSONValue in
            return .object([
                "id": .string(try row.text("id")), "domain": .string(try row.text("domain")),
                "active": .bool(try row.isNull("deactivated_at")),
                "activatedAt": .string(Timestamp.iso(millis: try row.integer("activated_at"))),
                "deactivatedAt": try row.jsonTimestamp("deactivated_at"),
                "lastValidatedAt": try row.jsonTimestamp("last_validated_at"),
            ])
        }
        return .json(PageMeta.envelope(entries, total: Int(total), query: query))
    }
}

extension HTTPField.Name {
    static let xEcosireSignature = Self("X-Ecosire-Signature")!
}
