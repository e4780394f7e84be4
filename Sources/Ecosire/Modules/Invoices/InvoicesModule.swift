import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SQLKit

/// The invoices module's public interface: orders are invoiced through it.
public struct InvoiceService: Sendable {
    let store: ResourceStore

    /// A draft invoice with the order's lines, prices and tax, on the caller's transaction.
    func createFromOrder(_ sql: any SQLDatabase, organizationID: String, order: JSONValue) async throws -> JSONValue {
        var invoiceLines: [JSONValue] = []
        for line in order["lineItems"]?.arrayValue ?? [] {
            let quantity = line["quantity"]?.intValue ?? 1
            let total = line["total"]?.intValue ?? 0
            let description = line["productName"]?.stringValue ?? "Item"
            // A discounted line keeps its total: the discount is spread over the unit price, and a
            // remainder becomes a line of its own so the sum stays exact.
            let unit = quantity > 0 ? total / quantity : total
            invoiceLines.append(["description": .string(description), "quantity": .int(quantity), "unitPrice": .int(unit)])
            let remainder = total - unit * quantity
            if remainder > 0 {
                invoiceLines.append(["description": .string("Rounding, \(description)"), "quantity": 1, "unitPrice": .int(remainder)])
            }
        }
        let reference = order["reference"]?.stringValue ?? ""
        return try await store.create(
            sql, organizationID: organizationID,
            body: [
                "contactId": order["contactId"] ?? .null, "lineItems": .array(invoiceLines), "taxRate": order["taxRate"] ?? 0,
                "notes": .string("Order \(reference)"),
            ],
            preset: ["orderId": order["id"] ?? .null, "currency": order["currency"] ?? "usd"]
        )
    }
}

/// Invoices: CRUD from the resource helper (changes only in draft), send, payments, credit notes
/// and the PDF.
struct InvoicesModule: Module {
    let platform: Platform
    let resource: Resource
    let store: ResourceStore

    init(platform: Platform, contacts: ContactDirectory) {
        self.platform = platform
        self.resource = InvoiceResource.resource(contacts: contacts, clock: platform.clock, database: platform.database) { change, sql, _ in
            switch change {
            case .deleted(let record):
                try APIError.requireStatus(of: record, in: ["draft"], action: "delete", noun: "an invoice")
                try await sql.raw("DELETE FROM invoice_payments WHERE invoice_id = \(bind: record["id"]?.stringValue ?? "")").run()
            default: break
            }
        }
        self.store = ResourceStore(resource: resource, database: platform.database, clock: platform.clock)
    }

    var service: InvoiceService { InvoiceService(store: store) }

    static let paymentRequest = Schema.object([
        .init(
            "amount", Schema.integer(minimum: 1, maximum: Money.maximum).describe("In cents; at most the amount due"),
            required: true),
        .init("method", .enumeration(["bank_transfer", "card", "cash", "check", "stripe", "other"]), required: true),
        .init("date", InvoiceResource.date.describe("Defaults to today (UTC)")),
    ]).named("InvoicePaymentRequest")

    var eventTypes: [EventType] {
        var record = resource.recordSchema
        record.componentName = nil
        return resource.eventTypes + [
            EventType(
                "invoice.paid", description: "An Ecosire invoice is paid in full (the object is the invoice).",
                trigger: "POST /api/invoices/{id}/pay brings the amount due to zero.", schema: record,
                example: resource.eventTypes.first?.example)
        ]
    }

    func register(on api: APIRouter) {
        ResourceRoutes(resource: resource, store: store).register(on: api)
        let record = resource.recordSchema

        api.add(
            Operation(
                .post, "/api/invoices/{id}/send", id: "sendInvoice", tag: "Invoices", summary: "Send an invoice",
                description:
                    "draft → sent. The invoice is recorded on the contact's timeline; email delivery uses the email outbox when configured.",
                access: .authenticated(minimumRole: .member), responses: [ResponseSpec(200, "The sent invoice", schema: record)],
                errors: [409]
            )
        ) { input in
            .json(
                try await transition(input, action: "send", from: ["draft"]) { sql, invoice, organizationID in
                    let now = platform.clock.nowMillis()
                    try await sql.raw(
                        """
                        UPDATE invoices SET status = 'sent', sent_at = \(bind: Timestamp.iso(millis: now)), updated_at = \(bind: now)
                        WHERE id = \(bind: invoice["id"]?.stringValue ?? "")
                        """
                    ).run()
                    try await ContactActivityLog(database: platform.database, clock: platform.clock).record(
                        sql, organizationID: organizationID, contactID: invoice["contactId"]?.stringValue ?? "", kind: "invoice",
                        summary: "Invoice \(invoice["number"]?.stringValue ?? "") sent", data: ["invoiceId": invoice["id"] ?? .null])
                    return nil
                })
        }

        api.add(
            Operation(
                .post, "/api/invoices/{id}/pay", id: "payInvoice", tag: "Invoices", summary: "Record a payment",
                description:
                    "Partial payments are allowed: sent/overdue/partial_paid → partial_paid, or paid once nothing is due. Payments are an append-only ledger; amountPaid is their sum.",
                access: .authenticated(minimumRole: .member),
                body: .json(Self.paymentRequest, example: ["amount": 10_000, "method": "bank_transfer"]),
                responses: [ResponseSpec(200, "The invoice after the payment", schema: record)], errors: [409]
            )
        ) { input in
            let body = input.object
            let amount = body["amount"]!.intValue!
            let day = body["date"]?.stringValue ?? InvoiceResource.day(platform.clock.now())
            return .json(
                try await transition(input, action: "pay", from: ["sent", "partial_paid", "overdue"]) { sql, invoice, organizationID in
                    let due = invoice["amountDue"]?.intValue ?? 0
                    guard amount <= due else { throw APIError.validation(field: "amount", "Must not exceed the amount due (\(due))") }
                    let id = invoice["id"]?.stringValue ?? ""
                    let now = platform.clock.nowMillis()
                    try await sql.raw(
                        """
                        INSERT INTO invoice_payments (id, organization_id, invoice_id, amount, method, paid_on, created_at)
                        VALUES (\(bind: UUIDv7.generate()), \(bind: organizationID), \(bind: id), \(bind: amount), \(bind: body["method"]!.stringValue!),
                                \(bind: day), \(bind: now))
                        """
                    ).run()
                    let paid =
                        try await sql.raw(
                            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS paid FROM invoice_payments WHERE invoice_id = \(bind: id)"
                        )
                        .first()?
                        .decode(column: "paid", as: Int64.self) ?? 0
                    let total = invoice["total"]?.intValue ?? 0
                    let status = paid >= total ? "paid" : "partial_paid"
                    try await sql.raw(
                        """
                        UPDATE invoices SET amount_paid = \(bind: paid), amount_due = \(bind: max(0, total - paid)), status = \(bind: status),
                            updated_at = \(bind: now) WHERE id = \(bind: id)
                        """
                    ).run()
                    if status == "paid", let paidInvoice = try await store.fetch(sql, organizationID: organizationID, id: id) {
                        try await EventOutbox(clock: platform.clock).record(
                            sql, organizationID: organizationID, type: "invoice.paid", object: paidInvoice)
                    }
                    return nil
                })
        }

        api.add(
            Operation(
                .post, "/api/invoices/{id}/credit-note", id: "creditInvoice", tag: "Invoices",
                summary: "Cancel an invoice with a credit note",
                description: "sent/overdue/partial_paid/paid → cancelled; answers the credit note (kind credit_note, number RINV/…).",
                access: .authenticated(minimumRole: .member),
                responses: [ResponseSpec(201, "The credit note", schema: record, headers: ["Location": "URL of the credit note"])],
                errors: [409]
            )
        ) { input in
            let note = try await transition(input, action: "credit", from: ["sent", "partial_paid", "overdue", "paid"]) {
                sql, invoice, organizationID in
                guard invoice["kind"]?.stringValue == "invoice" else {
                    throw APIError.conflict("A credit note cannot itself be credited")
                }
                let created = try await store.create(
                    sql, organizationID: organizationID,
                    body: [
                        "contactId": invoice["contactId"] ?? .null,
                        "lineItems": .array(
                            (invoice["lineItems"]?.arrayValue ?? []).map { line in
                                .object([
                                    "description": line["description"] ?? "", "quantity": line["quantity"] ?? 1,
                                    "unitPrice": line["unitPrice"] ?? 0,
                                ])
                            }),
                        "taxRate": invoice["taxRate"] ?? 0, "currency": invoice["currency"] ?? "usd",
                        "notes": .string("Credit note for \(invoice["number"]?.stringValue ?? "")"),
                    ],
                    preset: ["kind": "credit_note", "creditedInvoiceId": invoice["id"] ?? .null, "orderId": invoice["orderId"] ?? .null]
                )
                let noteID = created["id"]?.stringValue ?? ""
                let now = platform.clock.nowMillis()
                try await sql.raw(
                    "UPDATE invoices SET status = 'sent', sent_at = \(bind: Timestamp.iso(millis: now)) WHERE id = \(bind: noteID)"
                ).run()
                try await sql.raw(
                    """
                    UPDATE invoices SET status = 'cancelled', credit_note_id = \(bind: noteID), updated_at = \(bind: now)
                    WHERE id = \(bind: invoice["id"]?.stringValue ?? "")
                    """
                ).run()
                return try await store.fetch(sql, organizationID: organizationID, id: noteID) ?? created
            }
            return .created(note, location: "/api/invoices/\(note["id"]?.stringValue ?? "")")
        }

        api.add(
            Operation(
                .get, "/api/invoices/{id}/pdf", id: "getInvoicePdf", tag: "Invoices", summary: "The invoice as a PDF",
                responses: [
                    ResponseSpec(
                        200, "A PDF document", schema: Schema.string(format: "binary"), mediaType: "application/pdf",
                        headers: ["Content-Disposition": "inline; filename=…"])
                ]
            )
        ) { input in
            let caller = try input.caller
            try await resource.beforeRead?(caller.organizationID)
            guard let invoice = try await store.get(organizationID: caller.organizationID, id: input.path("id")) else {
                throw APIError.notFound("Invoice not found")
            }
            let organization = try await platform.database.read { sql in
                try await sql.raw("SELECT name FROM organizations WHERE id = \(bind: caller.organizationID)").first()?
                    .decode(column: "name", as: String.self)
            }
            let payments = try await platform.database.readRows(
                """
                SELECT amount, method, paid_on FROM invoice_payments WHERE invoice_id = \(bind: invoice["id"]?.stringValue ?? "")
                ORDER BY created_at, id
                """
            )
            let pdf = try InvoicePDF.render(invoice, organization: organization ?? "", payments: payments)
            var headers = HTTPFields()
            headers[.contentType] = "application/pdf"
            let filename = (invoice["number"]?.stringValue ?? "invoice").replacingOccurrences(of: "/", with: "-")
            headers[.contentDisposition] = ContentDisposition.inline(
                filename: SafeFileName.reduce(filename + ".pdf", fallback: "invoice.pdf"))
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: pdf)))
        }
    }

    /// Runs a workflow action on the invoice of the path (see `ResourceStore.act`), after the
    /// overdue rule has been applied. Answers what `work` returns, else the invoice re-read, recording
    /// `invoice.updated`.
    private func transition(
        _ input: APIInput, action: String, from allowed: [String],
        work: @escaping @Sendable (any SQLDatabase, JSONValue, String) async throws -> JSONValue?
    ) async throws -> JSONValue {
        let caller = try input.caller
        try await resource.beforeRead?(caller.organizationID)
        let id = input.path("id")
        let store = self.store
        let clock = platform.clock
        return try await store.act(organizationID: caller.organizationID, id: id, action: action, allowed: allowed) { sql, invoice in
            if let answer = try await work(sql, invoice, caller.organizationID) { return answer }
            let after = try await store.fetch(sql, organizationID: caller.organizationID, id: id) ?? invoice
            try await EventOutbox(clock: clock).record(sql, organizationID: caller.organizationID, type: "invoice.updated", object: after)
            return after
        }
    }
}
