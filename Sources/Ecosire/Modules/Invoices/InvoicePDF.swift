import Foundation

/// Lays out an invoice (or credit note) as a PDF with the platform's PDF writer.
enum InvoicePDF {
    static func money(_ cents: Int64, _ currency: String) -> String {
        let sign = cents < 0 ? "-" : ""
        let value = abs(cents)
        let fraction = String(value % 100)
        return "\(sign)\(value / 100).\(fraction.count == 1 ? "0" + fraction : fraction) \(currency.uppercased())"
    }

    static func render(_ invoice: JSONValue, organization: String, payments: [any ColumnValues]) throws -> [UInt8] {
        let number = invoice["number"]?.stringValue ?? ""
        let currency = invoice["currency"]?.stringValue ?? "usd"
        let isCredit = invoice["kind"]?.stringValue == "credit_note"
        var pdf = PDFDocument(title: (isCredit ? "Credit note " : "Invoice ") + number)
        pdf.text(organization, size: 12, bold: true)
        pdf.space(8)
        pdf.text((isCredit ? "CREDIT NOTE " : "INVOICE ") + number, size: 18, bold: true)
        pdf.space(6)
        pdf.text("Status: \(invoice["status"]?.stringValue ?? "")")
        pdf.text("Invoice date: \(invoice["invoiceDate"]?.stringValue ?? "")")
        pdf.text("Due date: \(invoice["dueDate"]?.stringValue ?? "")")
        pdf.space(8)
        pdf.text("Bill to", bold: true)
        pdf.text(invoice["contact"]?["name"]?.stringValue ?? "")
        if let email = invoice["contact"]?["email"]?.stringValue { pdf.text(email) }
        pdf.space(12)
        let width = PDFDocument.textWidth
        pdf.row([("Description", 0, false), ("Qty", 300, true), ("Unit price", 400, true), ("Amount", width, true)], bold: true)
        pdf.rule()
        for line in invoice["lineItems"]?.arrayValue ?? [] {
            pdf.row([
                (String((line["description"]?.stringValue ?? "").prefix(48)), 0, false),
                (String(line["quantity"]?.intValue ?? 0), 300, true),
                (money(line["unitPrice"]?.intValue ?? 0, currency), 400, true),
                (money(line["total"]?.intValue ?? 0, currency), width, true),
            ])
        }
        pdf.rule()
        let taxRate = invoice["taxRate"]?.intValue ?? 0
        for (label, key) in [
            ("Subtotal", "subtotal"), ("Tax (\(taxRate / 100).\(String(format: "%02d", taxRate % 100)) %)", "taxAmount"),
            ("Total", "total"), ("Paid", "amountPaid"), ("Amount due", "amountDue"),
        ] {
            pdf.row(
                [(label, 300, true), (money(invoice[key]?.intValue ?? 0, currency), width, true)],
                bold: key == "total" || key == "amountDue")
        }
        if !payments.isEmpty {
            pdf.space(12)
            pdf.text("Payments", bold: true)
            for payment in payments {
                pdf.row([
                    (try payment.text("paid_on"), 0, false), (try payment.text("method"), 150, false),
                    (money(try payment.integer("amount"), currency), width, true),
                ])
            }
        }
        if let notes = invoice["notes"]?.stringValue, !notes.isEmpty {
            pdf.space(12)
            pdf.text(notes, size: 9)
        }
        return pdf.render()
    }
}
