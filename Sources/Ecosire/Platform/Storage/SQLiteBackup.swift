import Foundation
import Logging
import SQLKit
import SQLiteKit
import SQLiteNIO

/// `ecosire backup` and `ecosire restore` for the embedded SQLite database.
///
/// A backup is `VACUUM INTO`: one read transaction, so it is a consistent snapshot of every commit
/// made before it started, taken while the server keeps writing (WAL readers do not block the
/// writer). A restore swaps the file in only while no server holds a process lease on it, and
/// moves the replaced files aside instead of deleting them.
public enum SQLiteBackup {
    /// What a backup or a restore did, for the command's output.
    public struct Summary: Sendable {
        public var path: String
        public var bytes: Int
        public var migrations: Int
    }

    public static func backup(databasePath: String, output: String, logger: Logger) async throws -> Summary {
        let files = FileManager.default
        guard files.fileExists(atPath: databasePath) else {
            throw ConfigurationError("No database at \(databasePath); nothing to back up")
        }
        guard !files.fileExists(atPath: output) else {
            throw ConfigurationError("\(output) exists; back up to a new file")
        }
        let partial = output + ".partial"
        try? files.removeItem(atPath: partial)
        do {
            // Its own connection outside any transaction (VACUUM cannot run in one); in WAL mode
            // this reads a snapshot and never takes the write lock the server needs.
            try await withConnection(databasePath, readOnly: false, logger: logger) { sql in
                try await sql.raw("PRAGMA busy_timeout=5000").run()
                try await sql.raw("VACUUM INTO \(bind: partial)").run()
            }
        } catch {
            try? files.removeItem(atPath: partial)
            throw error
        }
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: partial)
        let migrations = try await check(partial, logger: logger)
        try files.moveItem(atPath: partial, toPath: output)
        return Summary(path: output, bytes: size(output), migrations: migrations)
    }

    /// Replaces the database with `input`. `knownMigrations` are this binary's: a backup made by a
    /// newer version (with migrations this one does not know) is refused.
    public static func restore(
        databasePath: String, input: String, knownMigrations: Set<String>, now: Int64, logger: Logger
    ) async throws -> Summary {
        let files = FileManager.default
        guard files.fileExists(atPath: input) else { throw ConfigurationError("No backup at \(input)") }
        let applied = try await migrationIDs(input, logger: logger)
        let unknown = applied.subtracting(knownMigrations)
        guard unknown.isEmpty else {
            throw ConfigurationError(
                "The backup was made by a newer version (migrations \(unknown.sorted().joined(separator: ", "))); restore it with that version"
            )
        }
        if files.fileExists(atPath: databasePath), try await hasLiveServer(databasePath, now: now, logger: logger) {
            throw ConfigurationError("A server is running on \(databasePath) (its process lease is current); stop it first")
        }
        let directory = (databasePath as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let incoming = databasePath + ".restoring"
        try? files.removeItem(atPath: incoming)
        try files.copyItem(atPath: input, toPath: incoming)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: incoming)
        try synchronize(incoming)
        // The replaced database and its WAL go aside together: a WAL left next to another file
        // would be replayed into it.
        let aside = databasePath + ".before-restore-\(now)"
        for suffix in ["", "-wal", "-shm"] where files.fileExists(atPath: databasePath + suffix) {
            try files.moveItem(atPath: databasePath + suffix, toPath: aside + suffix)
        }
        try files.moveItem(atPath: incoming, toPath: databasePath)
        return Summary(path: databasePath, bytes: size(databasePath), migrations: applied.count)
    }

    /// `PRAGMA integrity_check` and the migrations table; returns how many migrations it records.
    @discardableResult
    static func check(_ path: String, logger: Logger) async throws -> Int {
        try await migrationIDs(path, logger: logger).count
    }

    static func migrationIDs(_ path: String, logger: Logger) async throws -> Set<String> {
        try await withConnection(path, readOnly: true, logger: logger) { sql in
            let verdict = try await sql.raw("PRAGMA integrity_check").all().first.map {
                try $0.decode(column: "integrity_check", as: String.self)
            }
            guard verdict == "ok" else {
                throw ConfigurationError("\(path) fails SQLite's integrity check: \(verdict ?? "no answer")")
            }
            guard try await hasTable("schema_migrations", sql) else {
                throw ConfigurationError("\(path) is not an Ecosire database (no schema_migrations)")
            }
            return Set(try await sql.raw("SELECT id FROM schema_migrations").all().map { try $0.decode(column: "id", as: String.self) })
        }
    }

    static func hasLiveServer(_ path: String, now: Int64, logger: Logger) async throws -> Bool {
        try await withConnection(path, readOnly: true, logger: logger) { sql in
            guard try await hasTable("process_leases", sql) else { return false }
            return !(try await sql.raw("SELECT holder FROM process_leases WHERE expires_at > \(bind: now)").all().isEmpty)
        }
    }

    private static func hasTable(_ name: String, _ sql: any SQLDatabase) async throws -> Bool {
        !(try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name = \(bind: name)").all().isEmpty)
    }

    /// Opens `path` on a connection of its own; read-only (a URI with `mode=ro`) so that checking
    /// a backup never changes it.
    private static func withConnection<T: Sendable>(
        _ path: String, readOnly: Bool, logger: Logger, _ work: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let escaped = absolute.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? absolute
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let connection = try await SQLiteConnection.open(
            storage: .file(path: "file:\(escaped)" + (readOnly ? "?mode=ro" : "")), logger: quiet)
        do {
            let result = try await work(connection.sql())
            try await connection.close()
            return result
        } catch let error as SQLiteError where error.reason == .notADatabase {
            try? await connection.close()
            throw ConfigurationError("\(path) is not an SQLite database")
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    private static func synchronize(_ path: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.synchronize()
        try handle.close()
    }
}
