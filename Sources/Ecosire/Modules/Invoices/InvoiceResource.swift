import Foundation
import SQLKit

/// The invoices resource: documents, their lines and totals, and the workflow around them.
enum InvoiceResource {
    static let statuses = ["draft", "sent", "partial_paid", "paid", "overdue", "cancelled"]

    static let lineInput: Schema = {
        var lines = Schema.array(
            Schema.object([
                .init("description", .string(minLength: 1, maxLength: 500), required: true),
                .init("quantity", .integer(minimum: 1, maximum: 1_000_000), required: true),
                .init("unitPrice", Money.schema.describe("In cents"), required: true),
            ]).named("InvoiceLineInput"), maxItems: 200)
        lines.minItems = 1
        return lines
    }()

    static let line = Schema.object([
        .init("description", .string(), required: true), .init("quantity", .integer(minimum: 1), required: true),
        .init("unitPrice", Money.schema, required: true), .init("total", Money.schema, required: true),
    ]).named("InvoiceLine")

    static let date = Schema.string(format: "date")

    static let fields: [ResourceField] = [
        ResourceField("number", schema: Schema.string().describe("INV/2026/0042 (credit notes RINV/2026/0001)"), writable: false),
        ResourceField("kind", schema: .enumeration(["invoice", "credit_note"]), writable: false, default: "invoice"),
        ResourceField("status", schema: .enumeration(statuses), writable: false, default: "draft"),
        ResourceField("contactId", schema: .uuid, required: true),
        ResourceField("contact", schema: OrderResource.contactReference, storage: .json, writable: false),
        ResourceField("orderId", schema: .uuid, writable: false),
        ResourceField("lineItems", schema: .array(line), storage: .json, required: true, input: lineInput),
        ResourceField("subtotal", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField(
            "taxRate", schema: Schema.integer(minimum: 0, maximum: 10_000).describe("Basis points: 2000 is 20 %"), storage: .integer,
            default: 0),
        ResourceField("taxAmount", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField("total", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField("amountPaid", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField("amountDue", schema: Money.schema, storage: .integer, writable: false, default: 0),
        ResourceField(
            "currency", schema: Schema.string(minLength: 3, maxLength: 3).matching("^[a-z]{3}$").describe("ISO 4217, lower case"),
            default: "usd"),
        ResourceField("invoiceDate", schema: date.describe("Defaults to today (UTC)")),
        ResourceField("dueDate", schema: date.describe("Defaults to 30 days after invoiceDate")),
        ResourceField("notes", schema: .string(maxLength: 2000)),
        ResourceField("creditedInvoiceId", schema: Schema.uuid.describe("On a credit note: the invoice it cancels"), writable: false),
        ResourceField("creditNoteId", schema: Schema.uuid.describe("On a cancelled invoice: its credit note"), writable: false),
        ResourceField("sentAt", schema: .dateTime, storage: .text, writable: false),
    ]

    static let example: JSONValue = .object([
        "contactId": "018e1234-abcd-7000-8000-000000000001",
        "lineItems": [["description": "Odoo CRM Connector, annual license", "quantity": 1, "unitPrice": 24_900]], "taxRate": 2000,
        "dueDate": "2026-04-30",
    ])

    /// Today in UTC as YYYY-MM-DD.
    static func day(_ date: Date) -> String {
        let parts = Calendar.utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    static func dayAfter(_ day: String, days: Int) -> String {
        guard let date = Validators.parseDateTime(day + "T00:00:00Z") else { return day }
        return Self.day(date.addingTimeInterval(Double(days) * 86_400))
    }

    /// Line totals, subtotal, tax and what is due, from the lines and the rate.
    static func computeTotals(_ values: inout JSONObject, lines: [JSONValue], taxRate: Int64, amountPaid: Int64) throws {
        var subtotal: Int64 = 0
        var priced: [JSONValue] = []
        for (index, line) in lines.enumerated() {
            let quantity = line["quantity"]?.intValue ?? 1
            let unitPrice = line["unitPrice"]?.intValue ?? 0
            guard let total = Money.product(quantity, unitPrice) else {
                throw APIError.validation(field: "lineItems[\(index)].quantity", "The line total must not exceed \(Money.maximum)")
            }
            guard let sum = Money.sum(subtotal, total) else {
                throw APIError.validation(field: "lineItems", "The subtotal must not exceed \(Money.maximum)")
            }
            subtotal = sum
            priced.append(
                .object([
                    "description": line["description"] ?? "", "quantity": .int(quantity), "unitPrice": .int(unitPrice),
                    "total": .int(total),
                ]))
        }
        guard let tax = Money.tax(on: subtotal, basisPoints: taxRate), let total = Money.sum(subtotal, tax) else {
            throw APIError.validation(field: "taxRate", "The total with tax must not exceed \(Money.maximum)")
        }
        values["lineItems"] = .array(priced)
        values["subtotal"] = .int(subtotal)
        values["taxAmount"] = .int(tax)
        values["total"] = .int(total)
        values["amountDue"] = .int(max(0, total - amountPaid))
    }

    static func resource(
        contacts: ContactDirectory, clock: WallClock, database: any Database,
        onChange: @escaping @Sendable (ResourceChange, any SQLDatabase, String) async throws -> Void
    ) -> Resource {
        var resource = Resource(
            singular: "Invoice", plural: "Invoices", tag: "Invoices", path: "/api/invoices", table: "invoices", fields: fields,
            sortable: ["amount", "dueDate", "status", "createdAt"], searchable: ["number"],
            filters: [
                .equals("status", column: "status", schema: .enumeration(statuses), description: "Only invoices in this status"),
                .reference("contactId", column: "contact_id", description: "Only this contact's invoices"),
                .reference("orderId", column: "order_id", description: "Only invoices of this order"),
                ResourceFilter(QueryParameter("from", .dateTime, "Invoice date on or after (ISO 8601)")) { value in
                    "invoice_date >= \(bind: String(value.prefix(10)))"
                },
                ResourceFilter(QueryParameter("to", .dateTime, "Invoice date on or before (ISO 8601)")) { value in
                    "invoice_date <= \(bind: String(value.prefix(10)))"
                },
            ],
            example: example, eventPrefix: "invoice",
            prepare: { values, write in
                if let before = write.before { try APIError.requireStatus(of: before, in: ["draft"], action: "edit", noun: "an invoice") }
                try await contacts.attach(to: &values, write)
                let invoiceDate = values["invoiceDate"]?.stringValue ?? write.before?["invoiceDate"]?.stringValue ?? day(clock.now())
                values["invoiceDate"] = .string(invoiceDate)
                let dueDate = values["dueDate"]?.stringValue ?? write.before?["dueDate"]?.stringValue ?? dayAfter(invoiceDate, days: 30)
                guard dueDate >= invoiceDate else { throw APIError.validation(field: "dueDate", "Must not be before invoiceDate") }
                values["dueDate"] = .string(dueDate)
                if values["lineItems"] != nil || values["taxRate"] != nil || write.before == nil {
                    let lines = values["lineItems"]?.arrayValue ?? write.before?["lineItems"]?.arrayValue ?? []
                    let rate = values["taxRate"]?.intValue ?? write.before?["taxRate"]?.intValue ?? 0
                    try computeTotals(&values, lines: lines, taxRate: rate, amountPaid: 0)
                }
                if write.before == nil && values["number"] == nil {
                    let prefix = values["kind"]?.stringValue == "credit_note" ? "RINV" : "INV"
                    let year = Int(invoiceDate.prefix(4)) ?? Calendar.utc.component(.year, from: clock.now())
                    let number = try await ReferenceSequence.next(write.sql, organizationID: write.organizationID, name: prefix, year: year)
                    values["number"] = .string(ReferenceSequence.format(prefix: prefix, year: year, number: number))
                }
            },
            beforeRead: { organizationID in
                // `sent → overdue` once the due date has passed, applied before anyone reads. A read
                // first, so that reads take the (single, on SQLite) writer only when there is work.
                let today = day(clock.now())
                let due = try await database.readRows(
                    """
                    SELECT id FROM invoices WHERE organization_id = \(bind: organizationID) AND status = 'sent' AND due_date < \(bind: today)
                    LIMIT 1
                    """
                )
                guard !due.isEmpty else { return }
                _ = try await database.run(
                    """
                    UPDATE invoices SET status = 'overdue', updated_at = \(bind: clock.nowMillis())
                    WHERE organization_id = \(bind: organizationID) AND status = 'sent' AND due_date < \(bind: today)
                    """
                )
            },
            onChange: onChange
        )
        resource.sortAliases = ["amount": "total"]
        resource.conflictsOnChange = true
        return resource
    }
}
