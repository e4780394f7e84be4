/// The Stripe events Billing applies and passes on to subscribers, with Stripe's object as
/// `data.object` (the members documented are the ones Ecosire reads; Stripe sends more).
enum BillingEventTypes {
    private static func stripeObject(_ name: String, _ properties: [Schema.Property]) -> Schema {
        Schema.object(
            [.init("id", .string(), required: true), .init("object", .enumeration([name]), required: true)] + properties,
            additional: .anyValue)
    }

    private static let metadata = Schema.object([], additional: .string()).describe("Stripe metadata (string values)")

    static let all: [EventType] = [
        EventType(
            "checkout.session.completed", description: "Fired when a customer completes payment in a Stripe Checkout Session.",
            trigger: "Customer pays for a product in the storefront. Auto-grants licenses and creates the order.",
            schema: stripeObject(
                "checkout.session",
                [
                    .init("customer_email", Schema.string().orNull()), .init("amount_total", .integer(minimum: 0)),
                    .init("currency", .string()), .init("mode", .enumeration(["payment", "subscription", "setup"])),
                    .init("payment_status", .enumeration(["paid", "unpaid", "no_payment_required"])),
                    .init("metadata", metadata.describe("userId, and productIds as a JSON array of product ids"), required: true),
                ]),
            example: [
                "id": "cs_live_abc123", "object": "checkout.session", "customer_email": "customer@example.com", "amount_total": 24900,
                "currency": "usd", "mode": "payment", "payment_status": "paid",
                "metadata": ["userId": "usr_01HXYZ", "productIds": "[\"prd_01HODOOCRM\"]"],
            ]),
        EventType(
            "invoice.paid", description: "A subscription invoice was paid through Stripe.",
            trigger: "Stripe collects a subscription payment. Renews the subscription period and the licenses it covers.",
            schema: stripeObject(
                "invoice",
                [
                    .init("amount_paid", .integer(minimum: 0), required: true), .init("currency", .string()),
                    .init("subscription", Schema.string().orNull()), .init("hosted_invoice_url", Schema.string().orNull()),
                ]),
            example: [
                "id": "in_1PQRabc", "object": "invoice", "amount_paid": 4900, "currency": "usd", "subscription": "sub_1MNOxyz",
                "customer": "cus_Q1abc", "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_abc",
                "lines": ["data": [["period": ["start": 1_711_000_000, "end": 1_713_678_400]]]],
            ]),
        EventType(
            "customer.subscription.updated", description: "A subscription changed status or period.",
            trigger: "Stripe renews, pauses or marks a subscription past due. Licenses are suspended while past_due or unpaid.",
            schema: stripeObject(
                "subscription",
                [
                    .init(
                        "status",
                        .enumeration(["trialing", "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "paused"]
                        ), required: true),
                    .init("current_period_start", .integer(minimum: 0)), .init("current_period_end", .integer(minimum: 0)),
                    .init("cancel_at_period_end", .boolean), .init("customer", .string()),
                ]),
            example: [
                "id": "sub_1MNOxyz", "object": "subscription", "status": "past_due", "customer": "cus_Q1abc",
                "current_period_start": 1_711_000_000, "current_period_end": 1_713_678_400, "cancel_at_period_end": false,
            ]),
        EventType(
            "customer.subscription.deleted", description: "A subscription was canceled.",
            trigger: "The customer or Stripe cancels a subscription. Its licenses end at the period end.",
            schema: stripeObject(
                "subscription",
                [
                    .init("status", .enumeration(["canceled"]), required: true), .init("current_period_end", .integer(minimum: 0)),
                    .init("customer", .string()),
                ]),
            example: [
                "id": "sub_1MNOxyz", "object": "subscription", "status": "canceled", "customer": "cus_Q1abc",
                "current_period_end": 1_713_678_400,
            ]),
        EventType(
            "charge.refunded", description: "A payment was refunded in full or in part.",
            trigger: "A refund is issued in Stripe. A full refund marks the order refunded and revokes its licenses.",
            schema: stripeObject(
                "charge",
                [
                    .init("amount", .integer(minimum: 0)), .init("amount_refunded", .integer(minimum: 0), required: true),
                    .init("refunded", .boolean), .init("payment_intent", Schema.string().orNull()), .init("currency", .string()),
                ]),
            example: [
                "id": "ch_3ABCdef", "object": "charge", "amount": 24900, "amount_refunded": 24900, "refunded": true,
                "payment_intent": "pi_3ABCdef", "currency": "usd",
            ]),
        EventType(
            "payment_intent.payment_failed", description: "A payment attempt failed.",
            trigger: "A card is declined or a payment cannot be completed. The failure is recorded on the order or subscription.",
            schema: stripeObject(
                "payment_intent",
                [
                    .init("amount", .integer(minimum: 0)), .init("currency", .string()),
                    .init(
                        "last_payment_error",
                        Schema.object([.init("code", .string()), .init("message", .string())], additional: .anyValue).orNull()),
                    .init("metadata", metadata),
                ]),
            example: [
                "id": "pi_3ABCdef", "object": "payment_intent", "amount": 24900, "currency": "usd",
                "last_payment_error": ["code": "card_declined", "message": "Your card was declined."],
                "metadata": ["userId": "usr_01HXYZ"],
            ]),
    ]
}
