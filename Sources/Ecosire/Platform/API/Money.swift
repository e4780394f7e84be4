/// Arithmetic on amounts in integer minor units that clients control (quantities, prices,
/// discounts, tax rates). Swift traps on overflow, so one unchecked `*` on a client's number
/// would stop the server; these answer `nil` instead, and callers turn that into a 422 naming
/// the field.
public enum Money {
    /// The largest amount any computed money field holds: 10^15 minor units (10 trillion in a
    /// two-decimal currency). It stays below 2^53, so JavaScript clients read every amount exactly,
    /// and a sum of a few thousand such amounts still fits in 64 bits.
    public static let maximum: Int64 = 1_000_000_000_000_000

    /// The schema of a money input or output: an integer from 0 to `maximum`.
    public static var schema: Schema { Schema.integer(minimum: 0, maximum: maximum) }

    /// `quantity × unitPrice`, or nil when either is negative or the product exceeds `maximum`.
    public static func product(_ quantity: Int64, _ unitPrice: Int64) -> Int64? {
        guard quantity >= 0, unitPrice >= 0 else { return nil }
        let (value, overflow) = quantity.multipliedReportingOverflow(by: unitPrice)
        return overflow || value > maximum ? nil : value
    }

    /// `a + b`, or nil when either is negative or the sum exceeds `maximum`.
    public static func sum(_ a: Int64, _ b: Int64) -> Int64? {
        guard a >= 0, b >= 0 else { return nil }
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow || value > maximum ? nil : value
    }

    /// Tax at `basisPoints` (2000 is 20 %) on `amount`, rounded half up. Computed as
    /// `⌊amount / 10⁴⌋ × rate + ⌊(amount mod 10⁴ × rate + 5000) / 10⁴⌋`, which equals
    /// `⌊(amount × rate + 5000) / 10⁴⌋` without forming that product (it overflows 64 bits for
    /// amounts near `maximum`). Nil when an input is out of range or the tax exceeds `maximum`.
    public static func tax(on amount: Int64, basisPoints: Int64) -> Int64? {
        guard (0...maximum).contains(amount), (0...1_000_000).contains(basisPoints) else { return nil }
        let whole = amount / 10_000 * basisPoints
        let part = (amount % 10_000 * basisPoints + 5_000) / 10_000
        let value = whole + part
        return value > maximum ? nil : value
    }
}
