import Ecosire
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOFoundationCompat
import Testing

@Suite("Orders and invoices")
struct OrdersInvoicesTests {
    @Test("the server prices orders; SO references are gap-free and unique under 20 concurrent creations")
    func pricingAndReferences() async throws {
        // AsyncHTTPClient, one connection per request: the test client sends one request at a time.
        try await TestServer.run(testing: .ahc(.http)) { client, _ in
            let token = try await client.register().token
            let contact = try await client.createContact(token, ["name": "Bob Buyer", "email": "bob@example.com"])
            let contactID = try #require(contact["id"]?.stringValue)
            let product = try await client.createProduct(token, ["price": 12_345])
            let productID = try #require(product["id"]?.stringValue)

            let priced = try await client.post(
                "/api/orders", token: token,
                json: [
                    "contactId": .string(contactID), "taxRate": 2000,
                    "lineItems": [["productId": .string(productID), "quantity": 3, "discount": 345]],
                ])
            #expect(priced.status == .created)
            #expect(
                priced.json["lineItems"]?[0] == [
                    "productId": .string(productID), "productName": "Odoo CRM Connector", "quantity": 3,
                    "unitPrice": 12_345, "discount": 345, "total": 36_690,
                ])
            #expect(priced.json["subtotal"] == 36_690)
            #expect(priced.json["taxAmount"] == 7_338)
            #expect(priced.json["total"] == 44_028)
            #expect(priced.json["contact"] == ["id": .string(contactID), "name": "Bob Buyer", "email": "bob@example.com"])
            let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
            #expect(priced.json["reference"] == .string("SO/\(year)/0001"))

            // Client-sent totals are unknown fields; a bad product or discount is a 422 that uses no number.
            let forged = try await client.post(
                "/api/orders", token: token,
                json: ["contactId": .string(contactID), "total": 1, "lineItems": [["productId": .string(productID), "quantity": 1]]])
            #expect(forged.status == .badRequest)
            let unknown = try await client.post(
                "/api/orders", token: token,
                json: ["contactId": .string(contactID), "lineItems": [["productId": .string(UUID().uuidString), "quantity": 1]]])
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.json["details"]?[0]?["field"] == "lineItems[0].productId")
            let discount = try await client.post(
                "/api/orders", token: token,
                json: [
                    "contactId": .string(contactID), "lineItems": [["productId": .string(productID), "quantity": 1, "discount": 99_999]],
                ])
            #expect(discount.status == .unprocessableContent)

            let references = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.createOrder(token, contactID: contactID, productID: productID)["reference"]?.stringValue ?? ""
                    }
                }
                var all: [String] = []
                for try await reference in group { all.append(reference) }
                return all
            }
            #expect(Set(references) == Set((2...21).map { String(format: "SO/\(year)/%04d", $0) }))
            let page = try await client.get("/api/orders?limit=5&sortBy=total&sortOrder=desc", token: token)
            #expect(page.json["meta"]?["total"] == 21)
            #expect(page.json["data"]?[0]?["total"] == 44_028)
        }
    }

    @Test("order workflow: each forbidden transition is a 409 naming the current status; confirming issues licenses")
    func orderWorkflow() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let contactID = try #require(try await client.createContact(token, ["name": "Bob"])["id"]?.stringValue)
            let licensed = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let physical = try #require(
                try await client.createProduct(token, ["type": "physical", "licensePolicy": nil])["id"]?.stringValue)
            let order = try await client.post(
                "/api/orders", token: token,
                json: [
                    "contactId": .string(contactID),
                    "lineItems": [["productId": .string(licensed), "quantity": 2], ["productId": .string(physical), "quantity": 1]],
                ])
            let id = try #require(order.json["id"]?.stringValue)

            func expectRefused(_ action: String, current: String, order: String? = nil) async throws {
                let refused = try await client.post("/api/orders/\(order ?? id)/\(action)", token: token, json: [:])
                #expect(refused.status == .conflict, "\(action) from \(current)")
                #expect(refused.json["code"] == "INVALID_STATE")
                #expect(refused.json["currentStatus"] == .string(current))
                #expect(refused.json["message"]?.stringValue?.contains(current) == true)
            }
            // Every action the workflow does not allow from a status is refused there.
            let allowed: [String: Set<String>] = [
                "draft": ["confirm", "cancel"], "confirmed": ["start", "cancel", "invoice"], "in_progress": ["deliver", "invoice"],
                "delivered": ["complete", "invoice"], "done": ["invoice"], "cancelled": [],
            ]
            func expectOnlyAllowed(_ current: String, order: String? = nil) async throws {
                for action in ["confirm", "start", "deliver", "complete", "cancel", "invoice"] where !allowed[current]!.contains(action) {
                    try await expectRefused(action, current: current, order: order)
                }
            }
            try await expectOnlyAllowed("draft")
            for action in ["start", "deliver", "complete", "invoice"] { try await expectRefused(action, current: "draft") }
            #expect(try await client.post("/api/orders/\(id)/confirm", token: token, json: [:]).json["status"] == "confirmed")
            let licenses = try await client.get("/api/licenses", token: token).json.arrayValue ?? []
            #expect(licenses.count == 2)
            #expect(licenses.allSatisfy { $0["orderId"] == .string(id) && $0["key"]?.stringValue?.hasPrefix("SHOP-") == true })
            try await expectRefused("confirm", current: "confirmed")
            try await expectOnlyAllowed("confirmed")
            let edit = try await client.patch("/api/orders/\(id)", token: token, json: ["notes": "late change"])
            #expect(edit.status == .conflict)
            #expect(edit.json["currentStatus"] == "confirmed")
            #expect(try await client.delete("/api/orders/\(id)", token: token).status == .conflict)
            #expect(try await client.post("/api/orders/\(id)/start", token: token, json: [:]).json["status"] == "in_progress")
            try await expectRefused("cancel", current: "in_progress")
            try await expectRefused("complete", current: "in_progress")
            try await expectOnlyAllowed("in_progress")
            #expect(try await client.post("/api/orders/\(id)/deliver", token: token, json: [:]).json["status"] == "delivered")
            try await expectOnlyAllowed("delivered")
            #expect(try await client.post("/api/orders/\(id)/complete", token: token, json: [:]).json["status"] == "done")
            try await expectRefused("cancel", current: "done")
            try await expectOnlyAllowed("done")

            let invoice = try await client.post("/api/orders/\(id)/invoice", token: token, json: [:])
            #expect(invoice.status == .created)
            #expect(invoice.json["orderId"] == .string(id))
            #expect(invoice.json["total"] == order.json["total"])
            #expect(try await client.post("/api/orders/\(id)/invoice", token: token, json: [:]).status == .conflict)
            let orderInvoices = try await client.get("/api/orders/\(id)/invoices", token: token).json
            #expect(orderInvoices["data"]?.arrayValue?.count == 1)
            #expect(orderInvoices["data"]?[0]?["number"]?.stringValue?.hasPrefix("INV/") == true)
            #expect(orderInvoices["meta"] == ["total": 1, "page": 1, "limit": 20, "totalPages": 1])

            // Cancelling a confirmed order revokes what it issued; a cancelled order stays cancelled.
            let second = try #require(try await client.createOrder(token, contactID: contactID, productID: licensed)["id"]?.stringValue)
            _ = try await client.post("/api/orders/\(second)/confirm", token: token, json: [:])
            #expect(try await client.post("/api/orders/\(second)/cancel", token: token, json: [:]).json["status"] == "cancelled")
            let revoked = (try await client.get("/api/licenses?status=revoked", token: token).json.arrayValue ?? [])
            #expect(revoked.map { $0["orderId"] } == [.string(second)])
            try await expectOnlyAllowed("cancelled", order: second)
            let third = try #require(try await client.createOrder(token, contactID: contactID, productID: licensed)["id"]?.stringValue)
            #expect(try await client.delete("/api/orders/\(third)", token: token).status == .noContent)
        }
    }

    @Test("invoice workflow: partial payments, overdue by the clock, credit notes, forbidden transitions")
    func invoiceWorkflow() async throws {
        let clock = ManualClock()
        try await TestServer.run(clock: clock.wallClock) { client, _ in
            let token = try await client.register().token
            let contactID = try #require(try await client.createContact(token, ["name": "Bob"])["id"]?.stringValue)
            func invoice(dueInDays: Int) async throws -> String {
                let due = Date().addingTimeInterval(Double(dueInDays) * 86_400).formatted(.iso8601.year().month().day())
                let created = try await client.post(
                    "/api/invoices", token: token,
                    json: [
                        "contactId": .string(contactID), "dueDate": .string(due), "taxRate": 1000,
                        "lineItems": [["description": "Consulting", "quantity": 10, "unitPrice": 1_000]],
                    ])
                #expect(created.status == .created, "\(created.text)")
                #expect(created.json["total"] == 11_000)
                #expect(created.json["number"]?.stringValue?.hasPrefix("INV/") == true)
                return created.json["id"]?.stringValue ?? ""
            }
            // Every action the workflow does not allow from a status is refused there, naming it.
            let allowed: [String: Set<String>] = [
                "draft": ["send"], "sent": ["pay", "credit-note"], "partial_paid": ["pay", "credit-note"],
                "overdue": ["pay", "credit-note"], "paid": ["credit-note"], "cancelled": [],
            ]
            func expectOnlyAllowed(_ invoiceID: String, _ current: String) async throws {
                for action in ["send", "pay", "credit-note"] where !allowed[current]!.contains(action) {
                    let body: JSONValue = action == "pay" ? ["amount": 1, "method": "cash"] : [:]
                    let refused = try await client.post("/api/invoices/\(invoiceID)/\(action)", token: token, json: body)
                    #expect(refused.status == .conflict, "\(action) from \(current)")
                    #expect(refused.json["code"] == "INVALID_STATE")
                    #expect(refused.json["currentStatus"] == .string(current))
                }
            }
            let first = try await invoice(dueInDays: 10)
            try await expectOnlyAllowed(first, "draft")
            let refusedPay = try await client.post("/api/invoices/\(first)/pay", token: token, json: ["amount": 100, "method": "cash"])
            #expect(refusedPay.status == .conflict)
            #expect(refusedPay.json["currentStatus"] == "draft")
            #expect(try await client.post("/api/invoices/\(first)/credit-note", token: token, json: [:]).status == .conflict)
            #expect(try await client.post("/api/invoices/\(first)/send", token: token, json: [:]).json["status"] == "sent")
            #expect(try await client.post("/api/invoices/\(first)/send", token: token, json: [:]).json["currentStatus"] == "sent")
            #expect(try await client.patch("/api/invoices/\(first)", token: token, json: ["notes": "x"]).status == .conflict)
            #expect(try await client.delete("/api/invoices/\(first)", token: token).status == .conflict)
            let partial = try await client.post(
                "/api/invoices/\(first)/pay", token: token, json: ["amount": 4_000, "method": "bank_transfer"])
            #expect(partial.json["status"] == "partial_paid")
            try await expectOnlyAllowed(first, "partial_paid")
            #expect(partial.json["amountPaid"] == 4_000)
            #expect(partial.json["amountDue"] == 7_000)
            let over = try await client.post("/api/invoices/\(first)/pay", token: token, json: ["amount": 7_001, "method": "card"])
            #expect(over.status == .unprocessableContent)
            #expect(over.json["details"]?[0]?["field"] == "amount")
            let paid = try await client.post("/api/invoices/\(first)/pay", token: token, json: ["amount": 7_000, "method": "card"])
            #expect(paid.json["status"] == "paid")
            #expect(paid.json["amountDue"] == 0)
            try await expectOnlyAllowed(first, "paid")
            #expect(
                try await client.post("/api/invoices/\(first)/pay", token: token, json: ["amount": 1, "method": "card"]).status == .conflict
            )

            // Sent and past its due date: overdue, found by the status filter, still payable.
            let second = try await invoice(dueInDays: 3)
            _ = try await client.post("/api/invoices/\(second)/send", token: token, json: [:])
            #expect(try await client.get("/api/invoices/\(second)", token: token).json["status"] == "sent")
            try await expectOnlyAllowed(second, "sent")
            clock.advance(by: 5 * 86_400)
            #expect(try await client.get("/api/invoices/\(second)", token: token).json["status"] == "overdue")
            try await expectOnlyAllowed(second, "overdue")
            let overdue = try await client.get("/api/invoices?status=overdue", token: token)
            #expect(overdue.json["data"]?.arrayValue?.map { $0["id"] } == [.string(second)])

            // A credit note cancels the invoice and is a document of its own.
            let note = try await client.post("/api/invoices/\(second)/credit-note", token: token, json: [:])
            #expect(note.status == .created)
            #expect(note.json["kind"] == "credit_note")
            #expect(note.json["number"]?.stringValue?.hasPrefix("RINV/") == true)
            #expect(note.json["creditedInvoiceId"] == .string(second))
            let cancelled = try await client.get("/api/invoices/\(second)", token: token).json
            #expect(cancelled["status"] == "cancelled")
            try await expectOnlyAllowed(second, "cancelled")
            #expect(cancelled["creditNoteId"] == note.json["id"])
            let again = try await client.post("/api/invoices/\(second)/credit-note", token: token, json: [:])
            #expect(again.json["currentStatus"] == "cancelled")
        }
    }

    @Test("the invoice PDF is a real PDF whose text pdftotext reads")
    func invoicePDF() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let contactID = try #require(try await client.createContact(token, ["name": "Bob Buyer"])["id"]?.stringValue)
            let created = try await client.post(
                "/api/invoices", token: token,
                json: [
                    "contactId": .string(contactID), "taxRate": 2000,
                    "lineItems": [["description": "Annual license", "quantity": 2, "unitPrice": 12_345]],
                ])
            let id = try #require(created.json["id"]?.stringValue)
            let number = try #require(created.json["number"]?.stringValue)
            let response = try await client.get("/api/invoices/\(id)/pdf", token: token)
            #expect(response.status == .ok)
            #expect(response.contentType == "application/pdf")
            let raw = try await client.client.executeRequest(
                uri: "/api/invoices/\(id)/pdf", method: .get, headers: [.authorization: "Bearer \(token)"], body: nil)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("invoice-\(UUID().uuidString).pdf")
            try Data(buffer: raw.body).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/pdftotext")
            process.arguments = ["-layout", file.path, "-"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            for expected in [number, "Bob Buyer", "Annual license", "246.90 USD", "296.28 USD", "Page 1 of 1"] {
                #expect(text.contains(expected), "PDF text lacks \(expected)")
            }
        }
    }

    @Test("another organization's products, orders, invoices and licenses are 404")
    func tenancy() async throws {
        try await TestServer.run { client, _ in
            let owner = try await client.register().token
            let stranger = try await client.register().token
            let contactID = try #require(try await client.createContact(owner, ["name": "Bob"])["id"]?.stringValue)
            let productID = try #require(try await client.createProduct(owner)["id"]?.stringValue)
            let orderID = try #require(try await client.createOrder(owner, contactID: contactID, productID: productID)["id"]?.stringValue)
            #expect(try await client.post("/api/orders/\(orderID)/confirm", token: owner, json: [:]).status == .ok)
            let license = try #require(try await client.get("/api/licenses", token: owner).json.arrayValue?.first)
            for path in [
                "/api/products/\(productID)", "/api/orders/\(orderID)", "/api/licenses/\(license["id"]?.stringValue ?? "")",
                "/api/products/\(productID)/variants", "/api/products/\(productID)/files",
            ] {
                #expect(try await client.get(path, token: stranger).status == .notFound, "\(path)")
            }
            #expect(try await client.post("/api/orders/\(orderID)/confirm", token: stranger, json: [:]).status == .notFound)
            #expect(try await client.get("/api/licenses", token: stranger).json == [])
            // The stranger cannot order the owner's product either.
            let strangerContact = try #require(try await client.createContact(stranger, ["name": "Eve"])["id"]?.stringValue)
            let order = try await client.post(
                "/api/orders", token: stranger,
                json: ["contactId": .string(strangerContact), "lineItems": [["productId": .string(productID), "quantity": 1]]])
            #expect(order.status == .unprocessableContent)
        }
    }
}
