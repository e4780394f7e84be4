import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// Sales orders: CRUD from the resource helper (changes only in draft), the workflow actions, and
/// the public interface billing uses for orders paid online.
struct OrdersModule: Module {
    let platform: Platform
    let resource: Resource
    let store: ResourceStore
    let licenses: LicenseService
    let catalog: ProductCatalog
    let invoices: InvoiceService

    init(platform: Platform, licenses: LicenseService, catalog: ProductCatalog, contacts: ContactDirectory, invoices: InvoiceService) {
        self.platform = platform
        self.licenses = licenses
        self.catalog = catalog
        self.invoices = invoices
        self.resource = OrderResource.resource(catalog: catalog, contacts: contacts, clock: platform.clock) { change, _, _ in
            if case .deleted(let record) = change {
                try APIError.requireStatus(of: record, in: ["draft"], action: "delete", noun: "an order")
            }
        }
        self.store = ResourceStore(resource: resource, database: platform.database, clock: platform.clock)
    }

    var service: OrderService { OrderService(store: store, licenses: licenses, catalog: catalog, clock: platform.clock) }

    /// The status moves besides confirm, cancel and invoice.
    static let steps: [(action: String, from: String, to: String, summary: String)] = [
        ("start", "confirmed", "in_progress", "Start work on a confirmed order"),
        ("deliver", "in_progress", "delivered", "Mark an order delivered"),
        ("complete", "delivered", "done", "Close a delivered order"),
    ]

    var eventTypes: [EventType] { resource.eventTypes }

    func register(on api: APIRouter) {
        ResourceRoutes(resource: resource, store: store).register(on: api)
        let record = resource.recordSchema
        let service = self.service

        api.add(
            Operation(
                .post, "/api/orders/{id}/confirm", id: "confirmOrder", tag: "Orders", summary: "Confirm an order",
                description:
                    "draft → confirmed. Issues the licenses of digital licensed products (quantity × one license each), in the same transaction.",
                access: .authenticated(minimumRole: .member), responses: [ResponseSpec(200, "The confirmed order", schema: record)],
                errors: [409]
            )
        ) { input in
            let caller = try input.caller
            return .json(
                try await act(input, action: "confirm", from: ["draft"]) { sql, order in
                    try await service.setStatus(sql, order: order, organizationID: caller.organizationID, status: "confirmed")
                    try await service.issueLicenses(sql, organizationID: caller.organizationID, order: order, ownerUserID: nil)
                })
        }

        api.add(
            Operation(
                .post, "/api/orders/{id}/cancel", id: "cancelOrder", tag: "Orders", summary: "Cancel an order",
                description: "draft or confirmed → cancelled; licenses already issued for it are revoked.",
                access: .authenticated(minimumRole: .member), responses: [ResponseSpec(200, "The cancelled order", schema: record)],
                errors: [409]
            )
        ) { input in
            let caller = try input.caller
            return .json(
                try await act(input, action: "cancel", from: ["draft", "confirmed"]) { sql, order in
                    try await service.setStatus(sql, order: order, organizationID: caller.organizationID, status: "cancelled")
                    _ = try await licenses.revokeAll(
                        sql, organizationID: caller.organizationID, orderID: order["id"]?.stringValue ?? "", reason: "order_cancelled")
                })
        }

        for step in Self.steps {
            api.add(
                Operation(
                    .post, "/api/orders/{id}/\(step.action)", id: "\(step.action)Order", tag: "Orders", summary: step.summary,
                    description: "\(step.from) → \(step.to).", access: .authenticated(minimumRole: .member),
                    responses: [ResponseSpec(200, "The order", schema: record)], errors: [409]
                )
            ) { input in
                let caller = try input.caller
                return .json(
                    try await act(input, action: step.action, from: [step.from]) { sql, order in
                        try await service.setStatus(sql, order: order, organizationID: caller.organizationID, status: step.to)
                    })
            }
        }

        api.add(
            Operation(
                .post, "/api/orders/{id}/invoice", id: "invoiceOrder", tag: "Orders", summary: "Invoice an order",
                description:
                    "Creates a draft invoice with the order's lines, prices and tax (allowed once the order is confirmed, and once per order unless its invoice was cancelled by a credit note).",
                access: .authenticated(minimumRole: .member),
                responses: [
                    ResponseSpec(
                        201, "The invoice", schema: invoices.store.resource.recordSchema, headers: ["Location": "URL of the invoice"])
                ],
                errors: [409]
            )
        ) { input in
            let caller = try input.caller
            let invoices = self.invoices
            let invoice = try await store.act(
                organizationID: caller.organizationID, id: input.path("id"), action: "invoice",
                allowed: ["confirmed", "in_progress", "delivered", "done"]
            ) { sql, order in
                let open = try await sql.raw(
                    """
                    SELECT number FROM invoices WHERE organization_id = \(bind: caller.organizationID)
                      AND order_id = \(bind: order["id"]?.stringValue ?? "") AND kind = 'invoice' AND status <> 'cancelled'
                    """
                ).first()
                if let open {
                    throw APIError.conflict("The order is already invoiced (\(try open.decode(column: "number", as: String.self)))")
                }
                return try await invoices.createFromOrder(sql, organizationID: caller.organizationID, order: order)
            }
            return .created(invoice, location: "/api/invoices/\(invoice["id"]?.stringValue ?? "")")
        }

        api.add(
            Operation(
                .get, "/api/orders/{id}/invoices", id: "listOrderInvoices", tag: "Orders", summary: "An order's invoices",
                description: "Invoices and credit notes of the order, oldest first, in the standard {data, meta} envelope.",
                query: ListQuery.pageParameters,
                responses: [
                    ResponseSpec(
                        200, "One page of the order's invoices",
                        schema: Schema.object([
                            .init("data", .array(invoices.store.resource.recordSchema), required: true),
                            .init("meta", PageMeta.schema, required: true),
                        ]).named("OrderInvoiceList"))
                ]
            )
        ) { input in
            let caller = try input.caller
            let orderID = input.path("id")
            let query = ListQuery(input)
            guard try await store.get(organizationID: caller.organizationID, id: orderID) != nil else {
                throw APIError.notFound("Order not found")
            }
            let ofOrder: SQLQueryString = "organization_id = \(bind: caller.organizationID) AND order_id = \(bind: orderID)"
            let ids = try await platform.database.readRows(
                "SELECT id FROM invoices WHERE \(ofOrder) ORDER BY created_at, id \(query.limitClause)"
            ).map { try $0.text("id") }
            let total = try await platform.database.readRows("SELECT COUNT(*) AS n FROM invoices WHERE \(ofOrder)").first?.integer("n") ?? 0
            var found: [JSONValue] = []
            for id in ids {
                if let invoice = try await invoicesRecord(caller.organizationID, id) { found.append(invoice) }
            }
            return .json(PageMeta.envelope(found, total: Int(total), query: query))
        }
    }

    private func invoicesRecord(_ organizationID: String, _ id: String) async throws -> JSONValue? {
        try await invoices.store.get(organizationID: organizationID, id: id)
    }

    /// Runs a workflow action on the order of the path (see `ResourceStore.act`) and answers the
    /// order as it is afterwards.
    private func act(
        _ input: APIInput, action: String, from allowed: [String],
        work: @escaping @Sendable (any SQLDatabase, JSONValue) async throws -> Void
    ) async throws -> JSONValue {
        let caller = try input.caller
        let id = input.path("id")
        let store = self.store
        return try await store.act(organizationID: caller.organizationID, id: id, action: action, allowed: allowed) { sql, order in
            try await work(sql, order)
            return try await store.fetch(sql, organizationID: caller.organizationID, id: id) ?? order
        }
    }
}

/// The orders module's public interface (billing creates, refunds and flags orders through it).
public struct OrderService: Sendable {
    let store: ResourceStore
    let licenses: LicenseService
    let catalog: ProductCatalog
    let clock: WallClock

    /// Sets the status and records `order.updated`.
    func setStatus(_ sql: any SQLDatabase, order: JSONValue, organizationID: String, status: String) async throws {
        _ = try await store.set(
            sql, organizationID: organizationID, id: order["id"]?.stringValue ?? "", values: ["status": .string(status)])
    }

    /// One license per unit of each digital product with a license policy.
    @discardableResult
    func issueLicenses(
        _ sql: any SQLDatabase, organizationID: String, order: JSONValue, ownerUserID: String?, subscriptionID: String? = nil,
        expiresAt: Int64? = nil
    ) async throws -> [License] {
        let lines = order["lineItems"]?.arrayValue ?? []
        let products = try await catalog.products(
            sql, organizationID: organizationID, ids: lines.compactMap { $0["productId"]?.stringValue })
        var issued: [License] = []
        for line in lines {
            guard let product = products[line["productId"]?.stringValue ?? ""], product.type == "digital", product.isLicensed else {
                continue
            }
            for _ in 0..<max(1, Int(line["quantity"]?.intValue ?? 1)) {
                issued.append(
                    try await licenses.issue(
                        sql, organizationID: organizationID,
                        grant: LicenseGrant(
                            productID: product.id, policy: product.licensePolicy, ownerUserID: ownerUserID,
                            contactID: order["contactId"]?.stringValue, orderID: order["id"]?.stringValue, subscriptionID: subscriptionID,
                            expiresAt: expiresAt)))
            }
        }
        return issued
    }

    /// A confirmed, paid order for a checkout, with its licenses; nil when the session already has one.
    func createPaidOrder(
        _ sql: any SQLDatabase, organizationID: String, contactID: String, productIDs: [String], ownerUserID: String, sessionID: String,
        paymentIntentID: String?, subscriptionID: String?, expiresAt: Int64?
    ) async throws -> (order: JSONValue, licenses: [License]) {
        var order = try await store.create(
            sql, organizationID: organizationID,
            body: [
                "contactId": .string(contactID),
                "lineItems": .array(productIDs.map { .object(["productId": .string($0), "quantity": 1]) }),
                "notes": .string("Stripe Checkout \(sessionID)"),
            ],
            preset: [
                "ownerUserId": .string(ownerUserID), "stripeCheckoutSessionId": .string(sessionID),
                "stripePaymentIntentId": paymentIntentID.map { .string($0) } ?? .null,
            ]
        )
        let id = order["id"]?.stringValue ?? ""
        try await sql.raw(
            "UPDATE orders SET status = 'confirmed', payment_status = 'paid', updated_at = \(bind: clock.nowMillis()) WHERE id = \(bind: id)"
        ).run()
        order = try await store.fetch(sql, organizationID: organizationID, id: id) ?? order
        let issued = try await issueLicenses(
            sql, organizationID: organizationID, order: order, ownerUserID: ownerUserID, subscriptionID: subscriptionID,
            expiresAt: expiresAt)
        return (order, issued)
    }

    /// The order paid by a Stripe PaymentIntent, or nil.
    func order(_ sql: any SQLDatabase, paymentIntentID: String) async throws -> (organizationID: String, order: JSONValue)? {
        guard
            let row = try await sql.raw("SELECT id, organization_id FROM orders WHERE stripe_payment_intent_id = \(bind: paymentIntentID)")
                .first()
        else { return nil }
        let organizationID = try row.decode(column: "organization_id", as: String.self)
        guard let order = try await store.fetch(sql, organizationID: organizationID, id: try row.decode(column: "id", as: String.self))
        else {
            return nil
        }
        return (organizationID, order)
    }

    /// Records a refund: a full one marks the order refunded and revokes its licenses.
    func refund(_ sql: any SQLDatabase, organizationID: String, order: JSONValue, amountRefunded: Int64, full: Bool) async throws
        -> [License]
    {
        let id = order["id"]?.stringValue ?? ""
        try await sql.raw(
            """
            UPDATE orders SET amount_refunded = \(bind: amountRefunded), payment_status = \(bind: full ? "refunded" : "partially_refunded"),
                status = \(bind: full ? "refunded" : order["status"]?.stringValue ?? "confirmed"), updated_at = \(bind: clock.nowMillis())
            WHERE id = \(bind: id)
            """
        ).run()
        if let after = try await store.fetch(sql, organizationID: organizationID, id: id) {
            try await EventOutbox(clock: clock).record(sql, organizationID: organizationID, type: "order.updated", object: after)
        }
        guard full else { return [] }
        return try await licenses.revokeAll(sql, organizationID: organizationID, orderID: id, reason: "refunded")
    }

    /// Records a failed payment on the order.
    func markPaymentFailed(_ sql: any SQLDatabase, organizationID: String, orderID: String) async throws {
        try await sql.raw(
            """
            UPDATE orders SET payment_status = 'failed', updated_at = \(bind: clock.nowMillis())
            WHERE id = \(bind: orderID) AND organization_id = \(bind: organizationID) AND payment_status = 'unpaid'
            """
        ).run()
    }
}
