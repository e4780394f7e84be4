import Foundation
import SQLKit

/// The products and product-variants resources, described as data for the resource helper.
enum ProductResources {
    static let productTypes = ["physical", "digital", "service"]

    /// What a license issued for the product looks like.
    static let licensePolicy = Schema.object([
        .init(
            "prefix",
            Schema.string(minLength: 2, maxLength: 10).matching("^[A-Z0-9]{2,10}$").describe("Key prefix (upper-case letters and digits)")),
        .init("activationsLimit", Schema.integer(minimum: 1, maximum: 100_000).describe("Domains one license may be active on")),
        .init("durationDays", Schema.integer(minimum: 1, maximum: 36_500).orNull().describe("Validity in days; null is perpetual")),
        .init("updatesMonths", Schema.integer(minimum: 0, maximum: 1_200).orNull().describe("Months of updates; null is unlimited")),
    ]).named("LicensePolicy")

    /// Fills the policy's defaults so that stored policies are complete.
    static func completePolicy(_ value: JSONValue) -> JSONValue {
        guard var policy = value.objectValue else { return value }
        if policy["prefix"] == nil { policy["prefix"] = "ECO" }
        if policy["activationsLimit"] == nil { policy["activationsLimit"] = 1 }
        if policy["durationDays"] == nil { policy["durationDays"] = .null }
        if policy["updatesMonths"] == nil { policy["updatesMonths"] = .null }
        return .object(policy)
    }

    static let example: JSONValue = .object([
        "name": "Odoo CRM Connector", "sku": "ODOO-CRM", "description": "Two-way sync between Odoo CRM and Ecosire",
        "type": "digital", "category": "integrations", "price": 24_900, "currency": "usd", "inStock": true,
        "images": ["https://cdn.example.com/odoo-crm.png"],
        "licensePolicy": .object(["prefix": "SHOP", "activationsLimit": 3, "durationDays": 365, "updatesMonths": 12]),
    ])

    static let productFields: [ResourceField] = [
        ResourceField("name", schema: .string(minLength: 1, maxLength: 255), required: true),
        ResourceField(
            "sku", schema: Schema.string(minLength: 1, maxLength: 64).matching("^[A-Za-z0-9._-]+$"), required: true, unique: true),
        ResourceField("description", schema: .string(maxLength: 10_000)),
        ResourceField("type", schema: .enumeration(productTypes), default: "digital"),
        ResourceField(
            "category", schema: Schema.string(minLength: 1, maxLength: 64).matching("^[a-z0-9]+(-[a-z0-9]+)*$").describe("Category slug")),
        ResourceField(
            "price", schema: Schema.integer(minimum: 0, maximum: 1_000_000_000_000).describe("In cents"), storage: .integer, required: true),
        ResourceField(
            "currency", schema: Schema.string(minLength: 3, maxLength: 3).matching("^[a-z]{3}$").describe("ISO 4217, lower case"),
            default: "usd"),
        ResourceField("inStock", schema: .boolean, storage: .boolean, default: true),
        ResourceField("images", schema: .array(Schema.string(maxLength: 2048, format: "uri"), maxItems: 20), storage: .json, default: []),
        ResourceField(
            "licensePolicy", schema: licensePolicy.describe("Licenses issued for this product; null when it is not licensed"),
            storage: .json, normalize: completePolicy),
    ]

    /// What the knowledge search (and the AI answer endpoint) reads of a product.
    static func searchDocument(_ record: JSONValue) -> SearchIndex.Document {
        let id = record["id"]?.stringValue ?? ""
        var facts: [String] = []
        if let description = record["description"]?.stringValue, !description.isEmpty { facts.append(description) }
        if let sku = record["sku"]?.stringValue { facts.append("SKU: \(sku).") }
        if let category = record["category"]?.stringValue, !category.isEmpty { facts.append("Category: \(category).") }
        if let price = record["price"]?.intValue, let currency = record["currency"]?.stringValue {
            let cents = String(format: "%02d", Int(price % 100))
            facts.append("Price: \(price / 100).\(cents) \(currency.uppercased()).")
        }
        return SearchIndex.Document(
            sourceType: "product", sourceID: id, title: record["name"]?.stringValue ?? "", body: facts.joined(separator: "\n"),
            url: "/api/products/" + id)
    }

    static func product(onChange: @escaping @Sendable (ResourceChange, any SQLDatabase, String) async throws -> Void) -> Resource {
        var resource = Resource(
            singular: "Product", plural: "Products", tag: "Products", path: "/api/products", table: "products",
            fields: productFields, sortable: ["name", "price", "sku", "createdAt"], searchable: ["name", "sku"],
            filters: [
                .equals(
                    "category", column: "category", schema: .string(minLength: 1, maxLength: 64), description: "Only this category (slug)"),
                .boolean("inStock", column: "in_stock", description: "Only products in (or out of) stock"),
                .equals("type", column: "type", schema: .enumeration(productTypes), description: "Only products of this type"),
            ],
            example: example, eventPrefix: "product", onChange: onChange
        )
        resource.conflictsOnChange = true  // products with licenses are not deleted
        return resource
    }

    static let variantFields: [ResourceField] = [
        ResourceField("productId", schema: .uuid, required: true, writable: false),
        ResourceField("name", schema: .string(minLength: 1, maxLength: 255), required: true),
        ResourceField(
            "sku", schema: Schema.string(minLength: 1, maxLength: 64).matching("^[A-Za-z0-9._-]+$"), required: true, unique: true),
        ResourceField(
            "price", schema: Schema.integer(minimum: 0, maximum: 1_000_000_000_000).describe("In cents; null uses the product's price"),
            storage: .integer),
        ResourceField(
            "attributes",
            schema: Schema.object([], additional: .string(maxLength: 255)).describe("For example {\"edition\": \"Enterprise\"}"),
            storage: .json, default: .object([:])),
        ResourceField("inStock", schema: .boolean, storage: .boolean, default: true),
    ]

    static let variant = Resource(
        singular: "ProductVariant", plural: "ProductVariants", tag: "Products", path: "/api/products/{id}/variants",
        table: "product_variants", fields: variantFields, sortable: ["name", "sku", "price", "createdAt"], searchable: ["name", "sku"],
        filters: [
            // Set from the path, never from the query string.
            ResourceFilter(QueryParameter("productId", .uuid, "")) { value in "product_id = \(bind: value)" }
        ],
        example: .object(["name": "Enterprise edition", "sku": "ODOO-CRM-ENT", "price": 49_900, "attributes": ["edition": "Enterprise"]]),
        eventPrefix: "product_variant"
    )
}
