import SQLKit

/// Human-facing references (`SO/2026/0042`, `INV/2026/0042`): one counter per organization, name and
/// year, advanced inside the caller's transaction. A rolled-back transaction rolls the counter back
/// too, so numbers are gap-free; the upsert's row lock serialises concurrent creators on PostgreSQL
/// (SQLite serialises every write transaction).
public enum ReferenceSequence {
    /// The next number for `name` in `year`.
    public static func next(_ sql: any SQLDatabase, organizationID: String, name: String, year: Int) async throws -> Int {
        let row = try await sql.raw(
            """
            INSERT INTO reference_sequences (organization_id, name, year, last_value)
            VALUES (\(bind: organizationID), \(bind: name), \(bind: year), 1)
            ON CONFLICT (organization_id, name, year) DO UPDATE SET last_value = reference_sequences.last_value + 1
            RETURNING last_value
            """
        ).first()
        guard let value = try row?.decode(column: "last_value", as: Int.self) else { throw APIError.internalError }
        return value
    }

    /// `PREFIX/2026/0042`, or with another separator (`HD-2026-0142`). At least four digits.
    public static func format(prefix: String, year: Int, number: Int, separator: String = "/") -> String {
        let digits = String(number)
        return prefix + separator + String(year) + separator + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
