import Foundation
import Logging

/// `ecosire migrate`: applies pending migrations; returns their ids.
public func migrateDatabase(_ config: AppConfiguration, logger: Logger) async throws -> [String] {
    let database = try await openDatabase(config, logger: logger)
    do {
        let applied = try await MigrationRunner(migrations: allMigrations()).migrate(database, logger: logger)
        try await database.shutdown()
        return applied
    } catch {
        try? await database.shutdown()
        throw error
    }
}

/// The account `ecosire create-admin` made.
public struct CreatedAdministrator: Sendable {
    public var id: String
    public var email: String
    public var role: String
}

/// `ecosire create-admin`: the owner of a new organization, or an admin of an existing one.
public func createAdministrator(
    _ config: AppConfiguration, email: String, name: String, password: String, organization: String, logger: Logger
) async throws -> CreatedAdministrator {
    guard Validators.isEmail(email) else { throw ConfigurationError("Invalid email address") }
    let database = try await openDatabase(config, logger: logger)
    defer { Task { try? await database.shutdown() } }
    try await MigrationRunner(migrations: allMigrations()).migrate(database, logger: logger)
    let store = IdentityStore(database: database)
    let existing = try await store.organizationID(named: organization)
    let role: Role = existing == nil ? .owner : .admin
    let hash = try await PasswordHasher(cost: config.bcryptCost).hash(password)
    guard
        let user = try await store.createUser(
            email: email.lowercased(), name: name, passwordHash: hash, role: role, organizationID: existing,
            organizationName: organization, now: WallClock.system.nowMillis()
        )
    else { throw ConfigurationError("An account with this email already exists") }
    return CreatedAdministrator(id: user.id, email: user.email, role: user.role.rawValue)
}

/// `ecosire backup`: an online snapshot of the SQLite database while the server keeps running.
/// PostgreSQL has its own tools; the command names them instead of wrapping them.
public func backupDatabase(_ config: AppConfiguration, output: String, logger: Logger) async throws -> SQLiteBackup.Summary {
    guard let path = config.sqlitePath else { throw ConfigurationError(postgresProcedure) }
    return try await SQLiteBackup.backup(databasePath: path, output: output, logger: logger)
}

/// `ecosire restore`: puts a backup in place of the SQLite database while no server runs on it;
/// the next `serve` applies the migrations the backup predates.
public func restoreDatabase(_ config: AppConfiguration, input: String, logger: Logger) async throws -> SQLiteBackup.Summary {
    guard let path = config.sqlitePath else { throw ConfigurationError(postgresProcedure) }
    return try await SQLiteBackup.restore(
        databasePath: path, input: input, knownMigrations: Set(allMigrations().map(\.id)), now: WallClock.system.nowMillis(),
        logger: logger)
}

private let postgresProcedure = """
    DATABASE_URL names PostgreSQL: back it up with pg_dump --format=custom --file=FILE "$DATABASE_URL" \
    and restore with pg_restore --clean --if-exists --no-owner --dbname="$DATABASE_URL" FILE (docs/deployment.md)
    """
