import Ecosire
import Logging

/// The test server's database opened beside it, for arranging or inspecting rows the API does not
/// expose. The connection is closed on every path: an SQLite connection left open traps in its
/// deinit and would take the whole test run down after one failed expectation.
func withDatabase<T>(
    _ config: AppConfiguration, _ body: (any Database) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test-db")
    logger.logLevel = .error
    let database = try await openDatabase(config, logger: logger)
    do {
        let result = try await body(database)
        try await database.shutdown()
        return result
    } catch {
        try? await database.shutdown()
        throw error
    }
}
