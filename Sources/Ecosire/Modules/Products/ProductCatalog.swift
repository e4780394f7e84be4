import SQLKit

/// What other modules need to know about a product.
public struct ProductInfo: Sendable {
    public var id: String
    public var name: String
    public var sku: String
    public var type: String
    public var price: Int64
    public var currency: String
    /// The license policy object, nil when the product is not licensed.
    public var licensePolicy: JSONValue?

    /// Digital products with a policy get licenses when sold.
    public var isLicensed: Bool { licensePolicy != nil }
}

/// The products module's public interface for orders, licenses and billing.
public struct ProductCatalog: Sendable {
    let database: any Database

    /// The products with these ids in the organization (missing ids are simply absent).
    public func products(_ sql: any SQLDatabase, organizationID: String, ids: [String]) async throws -> [String: ProductInfo] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await sql.raw(
            """
            SELECT id, name, sku, type, price, currency, license_policy FROM products
            WHERE organization_id = \(bind: organizationID) AND id IN (\(binds: Array(Set(ids))))
            """
        ).all()
        var found: [String: ProductInfo] = [:]
        for row in rows {
            let policy = try row.decode(column: "license_policy", as: String?.self).flatMap { try? JSONValue.parse($0) }
            let info = ProductInfo(
                id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
                sku: try row.decode(column: "sku", as: String.self), type: try row.decode(column: "type", as: String.self),
                price: try row.decode(column: "price", as: Int64.self), currency: try row.decode(column: "currency", as: String.self),
                licensePolicy: policy?.isNull == false ? policy : nil
            )
            found[info.id] = info
        }
        return found
    }

    /// One product, or nil.
    public func product(_ sql: any SQLDatabase, organizationID: String, id: String) async throws -> ProductInfo? {
        try await products(sql, organizationID: organizationID, ids: [id])[id]
    }
}
