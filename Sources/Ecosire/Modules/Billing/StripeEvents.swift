import Foundation
import HTTPTypes
import Logging
import SQLKit

/// Applies verified Stripe events, each on the transaction that also records the event id, so an
/// event is applied exactly once or not at all.
struct StripeEvents: Sendable {
    let orders: OrderService
    let licenses: LicenseService
    let catalog: ProductCatalog
    let contacts: ContactDirectory
    let clock: WallClock
    let logger: Logger

    /// The six types we act on; anything else is acknowledged and ignored.
    static let handled: Set<String> = [
        "checkout.session.completed", "invoice.paid", "customer.subscription.updated", "customer.subscription.deleted", "charge.refunded",
        "payment_intent.payment_failed",
    ]

    /// A 400 for a payload of a known type that cannot be applied; nothing is kept.
    static func malformed(_ message: String) -> APIError {
        APIError(.badRequest, code: "BAD_REQUEST", message: "Malformed \(message)")
    }

    /// Unix seconds from a payload as milliseconds; a time outside years 1970–9999 is malformed
    /// (and would overflow the multiplication).
    static func millis(_ seconds: Int64?, _ what: String) throws -> Int64? {
        guard let seconds else { return nil }
        guard (0...253_402_300_799).contains(seconds) else { throw malformed("\(what) must be Unix seconds") }
        return seconds * 1000
    }

    /// Applies `object` of `type`; returns the organization it belonged to (nil: not ours) and
    /// what happened.
    func apply(_ sql: any SQLDatabase, type: String, object: JSONValue) async throws -> (organizationID: String?, outcome: String) {
        guard case .object = object else { throw Self.malformed("event: data.object must be an object") }
        switch type {
        case "checkout.session.completed": return try await checkoutCompleted(sql, object)
        case "invoice.paid": return try await invoicePaid(sql, object)
        case "customer.subscription.updated": return try await subscriptionUpdated(sql, object, deleted: false)
        case "customer.subscription.deleted": return try await subscriptionUpdated(sql, object, deleted: true)
        case "charge.refunded": return try await chargeRefunded(sql, object)
        case "payment_intent.payment_failed": return try await paymentFailed(sql, object)
        default: return (nil, "ignored")
        }
    }

    private func string(_ object: JSONValue, _ key: String, required: Bool = true, in what: String) throws -> String? {
        guard let value = object[key], !value.isNull else {
            if required { throw Self.malformed("\(what): \(key) is required") }
            return nil
        }
        guard let text = value.stringValue else { throw Self.malformed("\(what): \(key) must be a string") }
        return text
    }

    private func user(_ sql: any SQLDatabase, _ id: String) async throws -> (organizationID: String, email: String, name: String)? {
        guard let row = try await sql.raw("SELECT organization_id, email, name FROM users WHERE id = \(bind: id)").first() else {
            return nil
        }
        return (
            try row.decode(column: "organization_id", as: String.self), try row.decode(column: "email", as: String.self),
            try row.decode(column: "name", as: String.self)
        )
    }

    // MARK: checkout.session.completed

    private func checkoutCompleted(_ sql: any SQLDatabase, _ session: JSONValue) async throws -> (String?, String) {
        let what = "checkout.session"
        let sessionID = try string(session, "id", in: what)!
        guard let metadata = session["metadata"], case .object = metadata else { throw Self.malformed("\(what): metadata is required") }
        let userID = try string(metadata, "userId", in: "\(what).metadata")!
        let productList = try string(metadata, "productIds", in: "\(what).metadata")!
        guard let parsed = try? JSONValue.parse(productList), let items = parsed.arrayValue, !items.isEmpty,
            items.allSatisfy({ $0.stringValue != nil })
        else { throw Self.malformed("\(what).metadata: productIds must be a JSON array of product ids") }
        let productIDs = items.compactMap { $0.stringValue?.lowercased() }
        guard let user = try await user(sql, userID.lowercased()) else { throw Self.malformed("\(what).metadata: userId names no user") }
        let organizationID = user.organizationID
        if try string(session, "payment_status", required: false, in: what) == "unpaid" {
            return (organizationID, "awaiting_payment")
        }
        let known = try await sql.raw("SELECT id FROM orders WHERE stripe_checkout_session_id = \(bind: sessionID)").first()
        if known != nil { return (organizationID, "session_already_fulfilled") }
        let products = try await catalog.products(sql, organizationID: organizationID, ids: productIDs)
        let missing = productIDs.filter { products[$0] == nil }
        guard missing.isEmpty else {
            throw Self.malformed("\(what).metadata: unknown productIds \(missing.joined(separator: ", "))")
        }
        let email =
            try string(session, "customer_email", required: false, in: what) ?? session["customer_details"]?["email"]?.stringValue
            ?? user.email
        let name = session["customer_details"]?["name"]?.stringValue ?? user.name
        let contact = try await contacts.findOrCreate(sql, organizationID: organizationID, email: email, name: name).contact
        var subscriptionID: String?
        if try string(session, "mode", required: false, in: what) == "subscription",
            let stripeSubscription = try string(session, "subscription", required: false, in: what)
        {
            subscriptionID = try await upsertSubscription(
                sql, organizationID: organizationID, userID: userID.lowercased(), stripeID: stripeSubscription,
                customer: session["customer"]?.stringValue, status: "active", start: nil, end: nil, cancelAtPeriodEnd: false,
                items: productIDs.map { id in
                    .object(["productId": .string(id), "productName": .string(products[id]?.name ?? ""), "quantity": 1])
                })
        }
        let created = try await orders.createPaidOrder(
            sql, organizationID: organizationID, contactID: contact["id"]?.stringValue ?? "", productIDs: productIDs,
            ownerUserID: userID.lowercased(), sessionID: sessionID,
            paymentIntentID: try string(session, "payment_intent", required: false, in: what), subscriptionID: subscriptionID,
            expiresAt: nil)
        if let subscriptionID, let orderID = created.order["id"]?.stringValue {
            try await sql.raw("UPDATE subscriptions SET order_id = \(bind: orderID) WHERE id = \(bind: subscriptionID)").run()
        }
        return (organizationID, "order \(created.order["reference"]?.stringValue ?? "") with \(created.licenses.count) license(s)")
    }

    // MARK: Subscriptions

    /// Our subscription for a Stripe id: `(id, organization)`.
    private func subscription(_ sql: any SQLDatabase, stripeID: String) async throws -> (id: String, organizationID: String)? {
        guard
            let row = try await sql.raw("SELECT id, organization_id FROM subscriptions WHERE stripe_subscription_id = \(bind: stripeID)")
                .first()
        else { return nil }
        return (try row.decode(column: "id", as: String.self), try row.decode(column: "organization_id", as: String.self))
    }

    private func upsertSubscription(
        _ sql: any SQLDatabase, organizationID: String, userID: String?, stripeID: String, customer: String?, status: String, start: Int64?,
        end: Int64?, cancelAtPeriodEnd: Bool, items: [JSONValue]?
    ) async throws -> String {
        let now = clock.nowMillis()
        if let existing = try await subscription(sql, stripeID: stripeID) {
            try await sql.raw(
                """
                UPDATE subscriptions SET status = \(bind: status), current_period_start = COALESCE(\(bind: start), current_period_start),
                    current_period_end = COALESCE(\(bind: end), current_period_end), cancel_at_period_end = \(bind: cancelAtPeriodEnd),
                    updated_at = \(bind: now)
                WHERE id = \(bind: existing.id)
                """
            ).run()
            return existing.id
        }
        let id = UUIDv7.generate()
        try await sql.raw(
            """
            INSERT INTO subscriptions (id, organization_id, user_id, stripe_subscription_id, stripe_customer_id, status, current_period_start,
                current_period_end, cancel_at_period_end, items, created_at, updated_at)
            VALUES (\(bind: id), \(bind: organizationID), \(bind: userID), \(bind: stripeID), \(bind: customer), \(bind: status), \(bind: start),
                \(bind: end), \(bind: cancelAtPeriodEnd), \(bind: JSONValue.array(items ?? []).jsonString), \(bind: now), \(bind: now))
            """
        ).run()
        return id
    }

    /// Stripe moved the period to the subscription's items in 2025; read either place.
    private func period(_ object: JSONValue, _ key: String) -> Int64? {
        object[key]?.intValue ?? object["items"]?["data"]?.arrayValue?.first?[key]?.intValue
    }

    private func subscriptionUpdated(_ sql: any SQLDatabase, _ object: JSONValue, deleted: Bool) async throws -> (String?, String) {
        let what = "subscription"
        let stripeID = try string(object, "id", in: what)!
        let status = deleted ? "canceled" : try string(object, "status", in: what)!
        let start = try Self.millis(period(object, "current_period_start"), "\(what): current_period_start")
        let end = try Self.millis(period(object, "current_period_end"), "\(what): current_period_end")
        var target = try await subscription(sql, stripeID: stripeID)
        if target == nil, let userID = object["metadata"]?["userId"]?.stringValue?.lowercased(), let user = try await user(sql, userID) {
            let id = try await upsertSubscription(
                sql, organizationID: user.organizationID, userID: userID, stripeID: stripeID, customer: object["customer"]?.stringValue,
                status: status, start: start, end: end, cancelAtPeriodEnd: object["cancel_at_period_end"]?.boolValue ?? false, items: nil)
            target = (id, user.organizationID)
        }
        guard let target else { return (nil, "ignored: unknown subscription") }
        _ = try await upsertSubscription(
            sql, organizationID: target.organizationID, userID: nil, stripeID: stripeID, customer: nil, status: status, start: start,
            end: end,
            cancelAtPeriodEnd: object["cancel_at_period_end"]?.boolValue ?? false, items: nil)
        let linked = try await licenses.licenses(sql, organizationID: target.organizationID, subscriptionID: target.id)
        var changed = 0
        if deleted {
            // Licenses run to the end of the paid period.
            try await licenses.setExpiry(
                sql, organizationID: target.organizationID, subscriptionID: target.id, expiresAt: end ?? clock.nowMillis())
        } else if status == "past_due" || status == "unpaid" {
            for license in linked where license.storedStatus == "active" {
                try await licenses.setStatus(
                    sql, license: license, status: "suspended", reason: "payment_past_due", event: "license.suspended")
                changed += 1
            }
        } else if status == "active" || status == "trialing" {
            for license in linked where license.storedStatus == "suspended" && license.statusReason == "payment_past_due" {
                try await licenses.setStatus(sql, license: license, status: "active", reason: nil, event: "license.reinstated")
                changed += 1
            }
            if let end {
                try await licenses.setExpiry(sql, organizationID: target.organizationID, subscriptionID: target.id, expiresAt: end)
            }
        }
        return (target.organizationID, "subscription \(status); \(changed) license(s) changed")
    }

    // MARK: invoice.paid

    private func invoicePaid(_ sql: any SQLDatabase, _ invoice: JSONValue) async throws -> (String?, String) {
        let what = "invoice"
        let stripeID = try string(invoice, "id", in: what)!
        guard let amount = invoice["amount_paid"]?.intValue else { throw Self.malformed("\(what): amount_paid must be an integer") }
        let stripeSubscription =
            try string(invoice, "subscription", required: false, in: what)
            ?? invoice["parent"]?["subscription_details"]?["subscription"]?.stringValue
        guard let stripeSubscription, let target = try await subscription(sql, stripeID: stripeSubscription) else {
            return (nil, "ignored: no known subscription")
        }
        let lines = invoice["lines"]?["data"]?.arrayValue ?? []
        let end = try Self.millis(
            lines.compactMap { $0["period"]?["end"]?.intValue }.max() ?? invoice["period_end"]?.intValue, "\(what): period end")
        let start = try Self.millis(
            lines.compactMap { $0["period"]?["start"]?.intValue }.min() ?? invoice["period_start"]?.intValue, "\(what): period start")
        let now = clock.nowMillis()
        try await sql.raw(
            """
            INSERT INTO billing_invoices (id, organization_id, subscription_id, stripe_invoice_id, status, amount_paid, currency, period_start,
                period_end, hosted_invoice_url, paid_at, created_at)
            VALUES (\(bind: UUIDv7.generate()), \(bind: target.organizationID), \(bind: target.id), \(bind: stripeID), 'paid', \(bind: amount),
                \(bind: invoice["currency"]?.stringValue ?? "usd"), \(bind: start), \(bind: end), \(bind: invoice["hosted_invoice_url"]?.stringValue),
                \(bind: now), \(bind: now))
            ON CONFLICT (stripe_invoice_id) DO NOTHING
            """
        ).run()
        _ = try await upsertSubscription(
            sql, organizationID: target.organizationID, userID: nil, stripeID: stripeSubscription, customer: nil, status: "active",
            start: start,
            end: end, cancelAtPeriodEnd: false, items: nil)
        if let end { try await licenses.setExpiry(sql, organizationID: target.organizationID, subscriptionID: target.id, expiresAt: end) }
        for license in try await licenses.licenses(sql, organizationID: target.organizationID, subscriptionID: target.id)
        where license.storedStatus == "suspended" && license.statusReason == "payment_past_due" {
            try await licenses.setStatus(sql, license: license, status: "active", reason: nil, event: "license.reinstated")
        }
        return (target.organizationID, "payment of \(amount) recorded; period renewed")
    }

    // MARK: Refunds and failures

    private func chargeRefunded(_ sql: any SQLDatabase, _ charge: JSONValue) async throws -> (String?, String) {
        let what = "charge"
        _ = try string(charge, "id", in: what)
        guard let refunded = charge["amount_refunded"]?.intValue else {
            throw Self.malformed("\(what): amount_refunded must be an integer")
        }
        guard let intent = try string(charge, "payment_intent", required: false, in: what),
            let found = try await orders.order(sql, paymentIntentID: intent)
        else { return (nil, "ignored: no order for this payment") }
        let full = charge["refunded"]?.boolValue == true || refunded >= (charge["amount"]?.intValue ?? Int64.max)
        let revoked = try await orders.refund(
            sql, organizationID: found.organizationID, order: found.order, amountRefunded: refunded, full: full)
        return (found.organizationID, full ? "order refunded; \(revoked.count) license(s) revoked" : "partial refund recorded")
    }

    private func paymentFailed(_ sql: any SQLDatabase, _ intent: JSONValue) async throws -> (String?, String) {
        let what = "payment_intent"
        let intentID = try string(intent, "id", in: what)!
        var organizationID: String?
        var orderID: String?
        if let found = try await orders.order(sql, paymentIntentID: intentID) {
            organizationID = found.organizationID
            orderID = found.order["id"]?.stringValue
        } else if let userID = intent["metadata"]?["userId"]?.stringValue?.lowercased(), let user = try await user(sql, userID) {
            organizationID = user.organizationID
        }
        guard let organizationID else { return (nil, "ignored: payment of no known customer") }
        if let orderID { try await orders.markPaymentFailed(sql, organizationID: organizationID, orderID: orderID) }
        let error = intent["last_payment_error"]
        try await sql.raw(
            """
            INSERT INTO payment_failures (id, organization_id, order_id, stripe_payment_intent_id, amount, currency, failure_code, failure_message,
                created_at)
            VALUES (\(bind: UUIDv7.generate()), \(bind: organizationID), \(bind: orderID), \(bind: intentID), \(bind: intent["amount"]?.intValue),
                \(bind: intent["currency"]?.stringValue), \(bind: error?["code"]?.stringValue), \(bind: error?["message"]?.stringValue),
                \(bind: clock.nowMillis()))
            """
        ).run()
        return (organizationID, "payment failure recorded")
    }
}
