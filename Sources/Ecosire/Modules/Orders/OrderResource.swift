import Foundation
import SQLKit

/// The orders resource and its workflow.
enum OrderResource {
    static let statuses = ["draft", "confirmed", "in_progress", "delivered", "done", "cancelled", "refunded"]
    static let paymentStatuses = ["unpaid", "paid", "partially_refunded", "refunded", "failed"]

    static let lineInput: Schema = {
        var lines = Schema.array(
            Schema.object([
                .init("productId", .uuid, required: true), .init("quantity", .integer(minimum: 1, maximum: 100_000), required: true),
                .init("discount", Money.schema.describe("Amount off the line, in cents")),
            ]).named("OrderLineInput"), maxItems: 200)
        lines.minItems = 1
        return lines
    }()

    static let line = Schema.object([
        .init("productId", .uuid, required: true), .init("productName", .string(), required: true),
        .init("quantity", .integer(minimum: 1), required: true), .init("unitPrice", Money.schema, required: true),
        .init("discount", Money.schema, required: true), .init("total", Money.schema, required: true),
    ]).named("OrderLine")

    static let contactReference = Schema.object([
        .init("id", .uuid, required: true), .init("name", .string(), required: true), .init("email", Schema.email.orNull(), required: true),
    ]).named("ContactReference")

    static let fields: [ResourceField] = [
        ResourceField("reference", schema: Schema.string().describe("SO/2026/0042"), writable: false),
        ResourceField("status", schema: .enumeration(statuses), writable: false, default: "draft"),
        ResourceField("contactId", schema: .uuid, required: true),
        ResourceField("contact", schema: contactReference, storage: .json, writable: false),
        ResourceField("lineItems", schema: .array(line), storage: .json, required: true, input: lineInput),
        ResourceField("subtotal", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField(
            "taxRate", schema: Schema.integer(minimum: 0, maximum: 10_000).describe("Basis points: 2000 is 20 %"), storage: .integer,
            default: 0),
        ResourceField("taxAmount", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField("total", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField("currency", schema: .string(minLength: 3, maxLength: 3), writable: false, default: "usd"),
        ResourceField("paymentStatus", schema: .enumeration(paymentStatuses), writable: false, default: "unpaid"),
        ResourceField("amountRefunded", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField("notes", schema: .string(maxLength: 2000)),
        ResourceField("ownerUserId", schema: Schema.uuid.describe("The customer's user account, for orders paid online"), writable: false),
        ResourceField("stripeCheckoutSessionId", schema: .string(), writable: false),
        ResourceField("stripePaymentIntentId", schema: .string(), writable: false),
    ]

    static let example: JSONValue = .object([
        "contactId": "018e1234-abcd-7000-8000-000000000001",
        "lineItems": [["productId": "018e1234-abcd-7000-8000-000000000002", "quantity": 2, "discount": 1000]], "taxRate": 2000,
    ])

    /// Computes names, prices and totals from the catalog; the client's numbers are never used.
    static func price(
        _ values: inout JSONObject, lines: [JSONValue], taxRate: Int64, catalog: ProductCatalog, write: ResourceWrite,
        field: String = "lineItems"
    ) async throws {
        let ids = lines.compactMap { $0["productId"]?.stringValue?.lowercased() }
        let products = try await catalog.products(write.sql, organizationID: write.organizationID, ids: ids)
        var issues: [FieldIssue] = []
        var priced: [JSONValue] = []
        var subtotal: Int64 = 0
        var currencies = Set<String>()
        for (index, line) in lines.enumerated() {
            let id = line["productId"]?.stringValue?.lowercased() ?? ""
            guard let product = products[id] else {
                issues.append(FieldIssue(field: "\(field)[\(index)].productId", message: "No such product"))
                continue
            }
            let quantity = line["quantity"]?.intValue ?? 1
            let discount = line["discount"]?.intValue ?? 0
            guard let gross = Money.product(quantity, product.price) else {
                issues.append(FieldIssue(field: "\(field)[\(index)].quantity", message: "The line total must not exceed \(Money.maximum)"))
                continue
            }
            if discount > gross {
                issues.append(FieldIssue(field: "\(field)[\(index)].discount", message: "Must not exceed quantity × unit price (\(gross))"))
                continue
            }
            currencies.insert(product.currency)
            guard let sum = Money.sum(subtotal, gross - discount) else {
                issues.append(FieldIssue(field: field, message: "The subtotal must not exceed \(Money.maximum)"))
                break
            }
            subtotal = sum
            priced.append(
                .object([
                    "productId": .string(product.id), "productName": .string(product.name), "quantity": .int(quantity),
                    "unitPrice": .int(product.price), "discount": .int(discount), "total": .int(gross - discount),
                ]))
        }
        if currencies.count > 1 { issues.append(FieldIssue(field: field, message: "Products must share one currency")) }
        if !issues.isEmpty { throw APIError.validation(issues) }
        guard let tax = Money.tax(on: subtotal, basisPoints: taxRate), let total = Money.sum(subtotal, tax) else {
            throw APIError.validation(field: "taxRate", "The total with tax must not exceed \(Money.maximum)")
        }
        values[field] = .array(priced)
        values["subtotal"] = .int(subtotal)
        values["taxAmount"] = .int(tax)
        values["total"] = .int(total)
        values["currency"] = .string(currencies.first ?? "usd")
    }

    static func resource(
        catalog: ProductCatalog, contacts: ContactDirectory, clock: WallClock,
        onChange: @escaping @Sendable (ResourceChange, any SQLDatabase, String) async throws -> Void
    ) -> Resource {
        var resource = Resource(
            singular: "Order", plural: "Orders", tag: "Orders", path: "/api/orders", table: "orders", fields: fields,
            sortable: ["total", "status", "createdAt", "updatedAt"], searchable: ["reference"],
            filters: [
                .equals("status", column: "status", schema: .enumeration(statuses), description: "Only orders in this status"),
                .reference("contactId", column: "contact_id", description: "Only this contact's orders"),
                .timeRange("from", column: "created_at", after: true, description: "Created at or after (ISO 8601)"),
                .timeRange("to", column: "created_at", after: false, description: "Created at or before (ISO 8601)"),
            ],
            example: example, eventPrefix: "order",
            prepare: { values, write in
                if let before = write.before { try APIError.requireStatus(of: before, in: ["draft"], action: "edit", noun: "an order") }
                try await contacts.attach(to: &values, write)
                if values["lineItems"] != nil || values["taxRate"] != nil {
                    let lines = values["lineItems"]?.arrayValue ?? write.before?["lineItems"]?.arrayValue ?? []
                    let rate = values["taxRate"]?.intValue ?? write.before?["taxRate"]?.intValue ?? 0
                    try await price(&values, lines: lines, taxRate: rate, catalog: catalog, write: write)
                }
                if write.before == nil {
                    let year = Calendar.utc.component(.year, from: clock.now())
                    let number = try await ReferenceSequence.next(write.sql, organizationID: write.organizationID, name: "SO", year: year)
                    values["reference"] = .string(ReferenceSequence.format(prefix: "SO", year: year, number: number))
                }
            },
            onChange: onChange
        )
        resource.conflictsOnChange = true
        return resource
    }
}

extension Calendar {
    /// The Gregorian calendar in UTC (reference years, invoice dates).
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
