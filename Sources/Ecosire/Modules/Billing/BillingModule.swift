import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SQLKit

/// Billing: the Stripe webhook receiver, checkout, subscriptions, billing invoices, payment
/// methods and the customer's billing summary.
struct BillingModule: Module {
    let platform: Platform
    let events: StripeEvents
    let catalog: ProductCatalog
    let stripe: StripeClient

    init(platform: Platform, events: StripeEvents, catalog: ProductCatalog) {
        self.platform = platform
        self.events = events
        self.catalog = catalog
        self.stripe = StripeClient(baseURL: platform.config.stripeAPIBase, secretKey: platform.config.stripeSecretKey)
    }

    // MARK: Schemas

    static let subscription = Schema.object([
        .init("id", .uuid, required: true),
        .init(
            "status", .enumeration(["incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"]),
            required: true),
        .init("currentPeriodStart", Schema.dateTime.orNull(), required: true),
        .init("currentPeriodEnd", Schema.dateTime.orNull(), required: true),
        .init("cancelAtPeriodEnd", .boolean, required: true),
        .init(
            "items",
            .array(
                Schema.object([
                    .init("productId", .string(), required: true), .init("productName", .string(), required: true),
                    .init("quantity", .integer(minimum: 0), required: true),
                ])), required: true),
        .init("stripeSubscriptionId", .string(), required: true), .init("orderId", Schema.uuid.orNull(), required: true),
        .init("createdAt", .dateTime, required: true),
    ]).named("Subscription")

    static let billingInvoice = Schema.object([
        .init("id", .uuid, required: true), .init("subscriptionId", Schema.uuid.orNull(), required: true),
        .init("stripeInvoiceId", .string(), required: true), .init("status", .string(), required: true),
        .init("amountPaid", .integer(minimum: 0), required: true), .init("currency", .string(), required: true),
        .init("periodStart", Schema.dateTime.orNull(), required: true), .init("periodEnd", Schema.dateTime.orNull(), required: true),
        .init("hostedInvoiceUrl", Schema.string().orNull(), required: true), .init("paidAt", .dateTime, required: true),
    ]).named("BillingInvoice")

    static let paymentMethod = Schema.object([
        .init("id", .uuid, required: true), .init("stripePaymentMethodId", .string(), required: true),
        .init("brand", .string(), required: true),
        .init("last4", .string(), required: true), .init("expMonth", .integer(minimum: 1, maximum: 12), required: true),
        .init("expYear", .integer(), required: true), .init("isDefault", .boolean, required: true),
        .init("createdAt", .dateTime, required: true),
    ]).named("PaymentMethod")

    static func listOf(_ schema: Schema, _ name: String) -> Schema {
        Schema.object([.init("data", .array(schema), required: true)]).named(name)
    }

    /// The standard `{data, meta}` list.
    static func pageOf(_ schema: Schema, _ name: String) -> Schema {
        Schema.object([.init("data", .array(schema), required: true), .init("meta", PageMeta.schema, required: true)]).named(name)
    }

    static let stripeEvent = Schema.object(
        [
            .init("id", Schema.string().describe("evt_…"), required: true), .init("object", .string()),
            .init("type", .string(), required: true), .init("created", .integer()),
            .init(
                "data", Schema.object([.init("object", Schema.object([], additional: .anyValue), required: true)], additional: .anyValue),
                required: true),
        ], additional: .anyValue
    ).named("StripeEvent")

    var eventTypes: [EventType] { BillingEventTypes.all }

    func register(on api: APIRouter) {
        for (path, id) in [("/api/billing/webhooks", "receiveStripeWebhook"), ("/api/webhooks/stripe", "receiveStripeWebhookAlias")] {
            api.add(
                Operation(
                    .post, path, id: id, tag: "Billing", summary: "Receive a Stripe event",
                    description:
                        "Verifies Stripe-Signature with STRIPE_WEBHOOK_SECRET (t=…, any v1, HMAC-SHA256 over \"t.body\", ±300 s); anything else is a 401 and nothing is processed. Each event id is applied once: a redelivery answers 200 and does nothing. Unknown types are acknowledged and ignored; a malformed payload of a handled type is a 400 and changes nothing.",
                    access: .open,
                    body: .raw(Self.stripeEvent, mediaType: "application/json", description: "The event exactly as Stripe sent it"),
                    responses: [
                        ResponseSpec(
                            200, "Received",
                            schema: Schema.object([
                                .init("received", .boolean, required: true), .init("duplicate", .boolean, required: true),
                                .init("outcome", .string(), required: true),
                            ]).named("StripeWebhookResult"))
                    ],
                    errors: [401, 413, 415, 503],
                    requestHeaders: ["Stripe-Signature": "`t=<unix>,v1=<hex>[,v1=…]` as Stripe sends it; required"],
                    codes: ["INVALID_SIGNATURE", "BILLING_NOT_CONFIGURED"]
                )
            ) { input in try await receive(input) }
        }

        api.add(
            Operation(
                .post, "/api/billing/checkout", id: "createCheckoutSession", tag: "Billing", summary: "Start a Stripe Checkout",
                description:
                    "Creates a Stripe Checkout Session for the caller with the products' server-side prices; metadata carries userId and productIds (one entry per unit), which the checkout.session.completed webhook turns into a paid order and licenses.",
                access: .authenticated(minimumRole: .viewer),
                body: .json(
                    Schema.object([
                        .init(
                            "items",
                            {
                                var items = Schema.array(
                                    Schema.object([
                                        .init("productId", .uuid, required: true),
                                        .init("quantity", .integer(minimum: 1, maximum: 100), required: true),
                                    ]), maxItems: 50)
                                items.minItems = 1
                                return items
                            }(), required: true),
                        .init("successUrl", Schema.string(maxLength: 2048, format: "uri"), required: true),
                        .init("cancelUrl", Schema.string(maxLength: 2048, format: "uri"), required: true),
                    ]).named("CheckoutRequest"),
                    example: [
                        "items": [["productId": "018e1234-abcd-7000-8000-000000000002", "quantity": 1]],
                        "successUrl": "https://shop.example.com/thanks", "cancelUrl": "https://shop.example.com/cart",
                    ]),
                responses: [
                    ResponseSpec(
                        200, "The session to redirect to",
                        schema: Schema.object([.init("sessionId", .string(), required: true), .init("url", .string(), required: true)])
                            .named(
                                "CheckoutSession"))
                ],
                errors: [502, 503], callsOtherServices: true
            )
        ) { input in try await checkout(input) }

        api.add(
            Operation(
                .get, "/api/billing/subscriptions", id: "listSubscriptions", tag: "Billing", summary: "Subscriptions",
                description: "Admins see the organization's; other members their own.",
                responses: [ResponseSpec(200, "The subscriptions", schema: Self.listOf(Self.subscription, "SubscriptionList"))]
            )
        ) { input in .json(.object(["data": .array(try await subscriptions(try input.caller, id: nil))])) }

        api.add(
            Operation(
                .get, "/api/billing/subscriptions/{id}", id: "getSubscription", tag: "Billing", summary: "A subscription",
                responses: [ResponseSpec(200, "The subscription", schema: Self.subscription)]
            )
        ) { input in
            guard let found = try await subscriptions(try input.caller, id: input.path("id")).first else {
                throw APIError.notFound("Subscription not found")
            }
            return .json(found)
        }

        api.add(
            Operation(
                .post, "/api/billing/subscriptions/{id}/cancel", id: "cancelSubscription", tag: "Billing",
                summary: "Cancel a subscription at the end of its period",
                description:
                    "Asks Stripe to cancel at period end (when STRIPE_SECRET_KEY is set) and records it; licenses run to the period's end.",
                access: .authenticated(minimumRole: .member),
                responses: [ResponseSpec(200, "The subscription", schema: Self.subscription)], errors: [409, 502], callsOtherServices: true
            )
        ) { input in try await cancel(input) }

        api.add(
            Operation(
                .get, "/api/billing/invoices", id: "listBillingInvoices", tag: "Billing", summary: "Paid subscription invoices",
                description: "Newest paid first, in the standard {data, meta} envelope.", query: ListQuery.pageParameters,
                responses: [
                    ResponseSpec(200, "One page of invoices, newest first", schema: Self.pageOf(Self.billingInvoice, "BillingInvoiceList"))
                ]
            )
        ) { input in
            let query = ListQuery(input)
            let caller = try input.caller
            let page = try await billingInvoices(caller, id: nil, page: query)
            return .json(PageMeta.envelope(page, total: try await billingInvoiceCount(caller), query: query))
        }

        api.add(
            Operation(
                .get, "/api/billing/invoices/{id}", id: "getBillingInvoice", tag: "Billing", summary: "A paid subscription invoice",
                responses: [ResponseSpec(200, "The invoice", schema: Self.billingInvoice)]
            )
        ) { input in
            guard let found = try await billingInvoices(try input.caller, id: input.path("id")).first else {
                throw APIError.notFound("Invoice not found")
            }
            return .json(found)
        }

        registerPaymentMethods(on: api)

        api.add(
            Operation(
                .get, "/api/portal/billing", id: "getBillingSummary", tag: "Billing", summary: "The customer's billing summary",
                description: "What the customer dashboard shows: subscriptions, recent invoices, payment methods, licenses and spend.",
                responses: [
                    ResponseSpec(
                        200, "The summary",
                        schema: Schema.object([
                            .init("subscriptions", .array(Self.subscription), required: true),
                            .init("recentInvoices", .array(Self.billingInvoice), required: true),
                            .init("paymentMethods", .array(Self.paymentMethod), required: true),
                            .init(
                                "licenses",
                                Schema.object([
                                    .init("total", .integer(minimum: 0), required: true),
                                    .init("active", .integer(minimum: 0), required: true),
                                ]),
                                required: true),
                            .init(
                                "orders",
                                Schema.object([
                                    .init("count", .integer(minimum: 0), required: true), .init("totalSpent", .integer(), required: true),
                                ]), required: true),
                        ]).named("BillingSummary"))
                ]
            )
        ) { input in try await summary(input) }
    }

    // MARK: Webhook

    private func receive(_ input: APIInput) async throws -> Response {
        guard let secret = platform.config.stripeWebhookSecret else {
            throw APIError(
                .serviceUnavailable, code: "BILLING_NOT_CONFIGURED", message: "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
        }
        let buffer = try await APIRouter.readBody(input.request, limit: 1 << 20)
        let payload = Array(buffer.readableBytesView)
        do {
            try TimestampedSignature(secret: secret).verify(
                payload: payload, header: input.request.headers[.stripeSignature], now: Int64(platform.clock.now().timeIntervalSince1970))
        } catch let failure as TimestampedSignature.Failure {
            throw APIError(.unauthorized, code: "INVALID_SIGNATURE", message: "Stripe signature verification failed (\(failure))")
        }
        guard let event = try? JSONValue.parse(buffer), case .object = event else {
            throw APIError.badRequest("Malformed JSON: the event could not be parsed")
        }
        guard let id = event["id"]?.stringValue, !id.isEmpty, id.count <= 255, let type = event["type"]?.stringValue else {
            throw APIError.badRequest("The event needs a string id and type")
        }
        let object = event["data"]?["object"] ?? .null
        let events = self.events
        let clock = platform.clock
        let logger = platform.logger
        let (duplicate, outcome) = try await platform.database.transaction { sql -> (Bool, String) in
            let claimed = try await sql.raw(
                """
                INSERT INTO stripe_events (id, type, outcome, received_at) VALUES (\(bind: id), \(bind: type), 'processing', \(bind: clock.nowMillis()))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """
            ).first()
            guard claimed != nil else { return (true, "already processed") }
            guard StripeEvents.handled.contains(type) else {
                try await sql.raw("UPDATE stripe_events SET outcome = 'ignored' WHERE id = \(bind: id)").run()
                return (false, "ignored")
            }
            let (organizationID, outcome) = try await events.apply(sql, type: type, object: object)
            try await sql.raw(
                "UPDATE stripe_events SET outcome = \(bind: outcome), organization_id = \(bind: organizationID) WHERE id = \(bind: id)"
            ).run()
            if let organizationID {
                try await EventOutbox(clock: clock).record(sql, organizationID: organizationID, type: type, object: object)
            }
            return (false, outcome)
        }
        logger.info("Stripe event", metadata: ["event": .string(id), "type": .string(type), "outcome": .string(outcome)])
        return .json(.object(["received": true, "duplicate": .bool(duplicate), "outcome": .string(outcome)]))
    }

    // MARK: Checkout

    private func checkout(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let body = input.object
        let items = body["items"]!.arrayValue!
        let ids = items.compactMap { $0["productId"]?.stringValue?.lowercased() }
        let catalog = self.catalog
        let (products, email) = try await platform.database.read { sql in
            (
                try await catalog.products(sql, organizationID: caller.organizationID, ids: ids),
                try await sql.raw("SELECT email FROM users WHERE id = \(bind: caller.userID)").first()?.decode(
                    column: "email", as: String.self)
            )
        }
        var issues: [FieldIssue] = []
        for (index, id) in ids.enumerated() where products[id] == nil {
            issues.append(FieldIssue(field: "items[\(index)].productId", message: "No such product"))
        }
        if Set(products.values.map(\.currency)).count > 1 {
            issues.append(FieldIssue(field: "items", message: "Products must share one currency"))
        }
        if !issues.isEmpty { throw APIError.validation(issues) }
        var form: [(String, String)] = [
            ("mode", "payment"), ("success_url", body["successUrl"]!.stringValue!), ("cancel_url", body["cancelUrl"]!.stringValue!),
            ("client_reference_id", caller.userID), ("metadata[userId]", caller.userID),
            ("payment_intent_data[metadata][userId]", caller.userID),
        ]
        if let email { form.append(("customer_email", email)) }
        var units: [JSONValue] = []
        for (index, item) in items.enumerated() {
            let product = products[ids[index]]!
            let quantity = item["quantity"]?.intValue ?? 1
            form += [
                ("line_items[\(index)][price_data][currency]", product.currency),
                ("line_items[\(index)][price_data][unit_amount]", String(product.price)),
                ("line_items[\(index)][price_data][product_data][name]", product.name),
                ("line_items[\(index)][price_data][product_data][metadata][productId]", product.id),
                ("line_items[\(index)][quantity]", String(quantity)),
            ]
            units += Array(repeating: .string(product.id), count: Int(quantity))
        }
        let productIDs = JSONValue.array(units).jsonString
        guard productIDs.count <= 500 else {
            throw APIError.validation(field: "items", "Too many units for one checkout (Stripe metadata values hold 500 characters)")
        }
        form.append(("metadata[productIds]", productIDs))
        let session = try await stripe.call(
            .POST, "/v1/checkout/sessions", form: form,
            idempotencyKey: input.request.headers[.idempotencyKey].map { "ecosire-\(caller.userID)-\($0)" })
        guard let sessionID = session["id"]?.stringValue, let url = session["url"]?.stringValue else {
            throw StripeClient.unavailable("Stripe answered without a session id and url")
        }
        return .json(.object(["sessionId": .string(sessionID), "url": .string(url)]))
    }

    // MARK: Subscriptions and invoices

    private static func iso(_ row: some ColumnValues, _ column: String) throws -> JSONValue {
        try row.isNull(column) ? .null : .string(Timestamp.iso(millis: try row.integer(column)))
    }

    private func subscriptions(_ caller: Caller, id: String?) async throws -> [JSONValue] {
        let filter: SQLQueryString = id.map { "AND id = \(bind: $0)" } ?? ""
        let rows = try await platform.database.readRows(
            """
            SELECT id, status, current_period_start, current_period_end, cancel_at_period_end, items, stripe_subscription_id, order_id, created_at
            FROM subscriptions WHERE \(caller.ownedRows(userColumn: "user_id")) \(filter) ORDER BY created_at DESC, id DESC LIMIT 100
            """
        )
        return try rows.map { row in
            .object([
                "id": .string(try row.text("id")), "status": .string(try row.text("status")),
                "currentPeriodStart": try Self.iso(row, "current_period_start"),
                "currentPeriodEnd": try Self.iso(row, "current_period_end"),
                "cancelAtPeriodEnd": .bool(try row.boolean("cancel_at_period_end")),
                "items": (try? JSONValue.parse(try row.text("items"))) ?? [],
                "stripeSubscriptionId": .string(try row.text("stripe_subscription_id")),
                "orderId": try row.jsonText("order_id"),
                "createdAt": .string(Timestamp.iso(millis: try row.integer("created_at"))),
            ])
        }
    }

    private func cancel(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        guard let current = try await subscriptions(caller, id: input.path("id")).first else {
            throw APIError.notFound("Subscription not found")
        }
        let status = current["status"]?.stringValue ?? ""
        guard !["canceled", "incomplete_expired"].contains(status) else {
            throw APIError.invalidState(current: status, action: "cancel", noun: "a subscription")
        }
        if platform.config.stripeSecretKey != nil, let stripeID = current["stripeSubscriptionId"]?.stringValue {
            _ = try await stripe.call(.POST, "/v1/subscriptions/\(stripeID)", form: [("cancel_at_period_end", "true")])
        }
        _ = try await platform.database.run(
            """
            UPDATE subscriptions SET cancel_at_period_end = \(bind: true), updated_at = \(bind: platform.clock.nowMillis())
            WHERE id = \(bind: input.path("id")) AND organization_id = \(bind: caller.organizationID)
            """
        )
        return .json(try await subscriptions(caller, id: input.path("id")).first ?? current)
    }

    /// Which billing invoices the caller sees: the organization's for admins, else those of their subscriptions.
    private func billingInvoiceScope(_ caller: Caller) -> SQLQueryString {
        caller.role >= .admin
            ? "b.organization_id = \(bind: caller.organizationID)"
            : "b.organization_id = \(bind: caller.organizationID) AND s.user_id = \(bind: caller.userID)"
    }

    private func billingInvoiceCount(_ caller: Caller) async throws -> Int {
        let rows = try await platform.database.readRows(
            """
            SELECT COUNT(*) AS n FROM billing_invoices b LEFT JOIN subscriptions s ON s.id = b.subscription_id
            WHERE \(billingInvoiceScope(caller))
            """
        )
        return Int(try rows.first?.integer("n") ?? 0)
    }

    /// The caller's billing invoices, newest paid first: one page of them, the one with `id`, or
    /// (neither) the latest 100.
    private func billingInvoices(_ caller: Caller, id: String?, page: ListQuery? = nil) async throws -> [JSONValue] {
        let filter: SQLQueryString = id.map { "AND b.id = \(bind: $0)" } ?? ""
        let limit: SQLQueryString = page?.limitClause ?? "LIMIT 100"
        let rows = try await platform.database.readRows(
            """
            SELECT b.id, b.subscription_id, b.stripe_invoice_id, b.status, b.amount_paid, b.currency, b.period_start, b.period_end,
                   b.hosted_invoice_url, b.paid_at
            FROM billing_invoices b LEFT JOIN subscriptions s ON s.id = b.subscription_id
            WHERE \(billingInvoiceScope(caller)) \(filter) ORDER BY b.paid_at DESC, b.id DESC \(limit)
            """
        )
        return try rows.map { row in
            .object([
                "id": .string(try row.text("id")),
                "subscriptionId": try row.jsonText("subscription_id"),
                "stripeInvoiceId": .string(try row.text("stripe_invoice_id")), "status": .string(try row.text("status")),
                "amountPaid": .int(try row.integer("amount_paid")), "currency": .string(try row.text("currency")),
                "periodStart": try Self.iso(row, "period_start"), "periodEnd": try Self.iso(row, "period_end"),
                "hostedInvoiceUrl": try row.jsonText("hosted_invoice_url"),
                "paidAt": .string(Timestamp.iso(millis: try row.integer("paid_at"))),
            ])
        }
    }

    // MARK: Payment methods

    /// The caller's payment methods, newest first: one page of them, the one with `id`, or all.
    private func paymentMethods(_ caller: Caller, id: String? = nil, page: ListQuery? = nil) async throws -> [JSONValue] {
        let filter: SQLQueryString = id.map { "AND id = \(bind: $0)" } ?? ""
        let limit: SQLQueryString = page?.limitClause ?? ""
        let rows = try await platform.database.readRows(
            """
            SELECT id, stripe_payment_method_id, brand, last4, exp_month, exp_year, is_default, created_at FROM payment_methods
            WHERE organization_id = \(bind: caller.organizationID) AND user_id = \(bind: caller.userID) \(filter)
            ORDER BY created_at DESC, id DESC \(limit)
            """
        )
        return try rows.map { row in
            .object([
                "id": .string(try row.text("id")), "stripePaymentMethodId": .string(try row.text("stripe_payment_method_id")),
                "brand": .string(try row.text("brand")), "last4": .string(try row.text("last4")),
                "expMonth": .int(try row.integer("exp_month")),
                "expYear": .int(try row.integer("exp_year")), "isDefault": .bool(try row.boolean("is_default")),
                "createdAt": .string(Timestamp.iso(millis: try row.integer("created_at"))),
            ])
        }
    }

    private func registerPaymentMethods(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/api/billing/payment-methods", id: "listPaymentMethods", tag: "Billing", summary: "The caller's payment methods",
                description: "Newest first, in the standard {data, meta} envelope.", query: ListQuery.pageParameters,
                responses: [
                    ResponseSpec(
                        200, "One page of payment methods, newest first", schema: Self.pageOf(Self.paymentMethod, "PaymentMethodList"))
                ]
            )
        ) { input in
            let query = ListQuery(input)
            let caller = try input.caller
            let page = try await paymentMethods(caller, page: query)
            let total =
                try await platform.database.readRows(
                    """
                    SELECT COUNT(*) AS n FROM payment_methods
                    WHERE organization_id = \(bind: caller.organizationID) AND user_id = \(bind: caller.userID)
                    """
                ).first?.integer("n") ?? 0
            return .json(PageMeta.envelope(page, total: Int(total), query: query))
        }

        api.add(
            Operation(
                .post, "/api/billing/payment-methods", id: "addPaymentMethod", tag: "Billing", summary: "Add a payment method",
                description:
                    "Takes the id of a PaymentMethod created with Stripe.js (card details never reach this server); brand, last four digits and expiry are read from Stripe.",
                access: .authenticated(minimumRole: .viewer),
                body: .json(
                    Schema.object([
                        .init(
                            "paymentMethodId", Schema.string(minLength: 4, maxLength: 255).matching("^pm_[A-Za-z0-9_]+$"), required: true),
                        .init("setDefault", .boolean),
                    ]).named("AddPaymentMethodRequest"), example: ["paymentMethodId": "pm_1PXYZ", "setDefault": true]),
                responses: [
                    ResponseSpec(201, "The payment method", schema: Self.paymentMethod, headers: ["Location": "URL of the payment method"])
                ],
                errors: [409, 502, 503], callsOtherServices: true
            )
        ) { input in
            let caller = try input.caller
            let stripeID = input.object["paymentMethodId"]!.stringValue!
            let method = try await stripe.call(.GET, "/v1/payment_methods/\(stripeID)")
            guard let card = method["card"], let brand = card["brand"]?.stringValue, let last4 = card["last4"]?.stringValue,
                let month = card["exp_month"]?.intValue, let year = card["exp_year"]?.intValue
            else { throw APIError.validation(field: "paymentMethodId", "Not a card payment method") }
            let id = UUIDv7.generate()
            let makeDefault = input.object["setDefault"]?.boolValue ?? false
            let clock = platform.clock
            do {
                try await platform.database.transaction { sql in
                    let existing =
                        try await sql.raw(
                            "SELECT COUNT(*) AS n FROM payment_methods WHERE organization_id = \(bind: caller.organizationID) AND user_id = \(bind: caller.userID)"
                        ).first()?.decode(column: "n", as: Int.self) ?? 0
                    let isDefault = makeDefault || existing == 0
                    if isDefault {
                        try await sql.raw(
                            "UPDATE payment_methods SET is_default = \(bind: false) WHERE organization_id = \(bind: caller.organizationID) AND user_id = \(bind: caller.userID)"
                        ).run()
                    }
                    try await sql.raw(
                        """
                        INSERT INTO payment_methods (id, organization_id, user_id, stripe_payment_method_id, brand, last4, exp_month, exp_year, is_default, created_at)
                        VALUES (\(bind: id), \(bind: caller.organizationID), \(bind: caller.userID), \(bind: stripeID), \(bind: brand), \(bind: last4),
                                \(bind: month), \(bind: year), \(bind: isDefault), \(bind: clock.nowMillis()))
                        """
                    ).run()
                }
            } catch  where DatabaseErrors.isUniqueViolation(error) {
                throw APIError.conflict(
                    "This payment method is already saved", details: [FieldIssue(field: "paymentMethodId", message: "Already added")])
            }
            return .created(try await paymentMethods(caller, id: id).first ?? .null, location: "/api/billing/payment-methods/\(id)")
        }

        api.add(
            Operation(
                .delete, "/api/billing/payment-methods/{id}", id: "deletePaymentMethod", tag: "Billing", summary: "Remove a payment method",
                access: .authenticated(minimumRole: .viewer), responses: [ResponseSpec(204, "Removed")]
            )
        ) { input in
            let caller = try input.caller
            guard try await paymentMethods(caller, id: input.path("id")).first != nil else {
                throw APIError.notFound("Payment method not found")
            }
            _ = try await platform.database.run(
                "DELETE FROM payment_methods WHERE id = \(bind: input.path("id")) AND organization_id = \(bind: caller.organizationID)")
            return .noContent
        }
    }

    // MARK: Summary

    private func summary(_ input: APIInput) async throws -> Response {
        let caller = try input.caller
        let now = platform.clock.nowMillis()
        let licenseCounts = try await platform.database.readRows(
            """
            SELECT COUNT(*) AS total,
                   CAST(COALESCE(SUM(CASE WHEN status = 'active' AND (expires_at IS NULL OR expires_at > \(bind: now)) THEN 1 ELSE 0 END), 0) AS BIGINT) AS active
            FROM licenses WHERE \(caller.ownedRows(userColumn: "owner_user_id"))
            """
        ).first
        let orderTotals = try await platform.database.readRows(
            """
            SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total - amount_refunded), 0) AS BIGINT) AS spent FROM orders
            WHERE \(caller.ownedRows(userColumn: "owner_user_id")) AND payment_status IN ('paid', 'partially_refunded', 'refunded')
            """
        ).first
        return .json(
            .object([
                "subscriptions": .array(try await subscriptions(caller, id: nil)),
                "recentInvoices": .array(Array(try await billingInvoices(caller, id: nil).prefix(5))),
                "paymentMethods": .array(try await paymentMethods(caller)),
                "licenses": .object([
                    "total": .int(try licenseCounts?.integer("total") ?? 0), "active": .int(try licenseCounts?.integer("active") ?? 0),
                ]),
                "orders": .object([
                    "count": .int(try orderTotals?.integer("n") ?? 0), "totalSpent": .int(try orderTotals?.integer("spent") ?? 0),
                ]),
            ]))
    }
}

extension HTTPField.Name {
    static let stripeSignature = Self("Stripe-Signature")!
}
