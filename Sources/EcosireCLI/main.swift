import ArgumentParser
import Configuration
import Ecosire
import Foundation
import Hummingbird
import Logging

@main
struct EcosireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ecosire",
        abstract: "The Ecosire business API server.",
        subcommands: [Serve.self, Migrate.self, OpenAPI.self, CreateAdmin.self, Backup.self, Restore.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by the commands that talk to the database.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to bind (default 127.0.0.1, or HOST)") var host: String?
    @Option(help: "Port to listen on (default 8080, or PORT)") var port: Int?

    /// Command-line values first, then the environment, then `.env`-style defaults.
    func reader() -> ConfigReader {
        var overrides: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { overrides["host"] = .init(stringLiteral: host) }
        if let port { overrides["port"] = .init(integerLiteral: port) }
        return ConfigReader(providers: [InMemoryProvider(values: overrides), EnvironmentVariablesProvider()])
    }
}

func makeLogger(_ config: AppConfiguration) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler: any LogHandler =
            config.logFormat == "json" ? JSONLogHandler(label: label) : StreamLogHandler.standardOutput(label: label)
        handler.logLevel = config.logLevel
        return handler
    }
    var logger = Logger(label: "ecosire")
    logger.logLevel = config.logLevel
    return logger
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server (migrates the database first).")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let config = AppConfiguration(reader: options.reader())
        let logger = makeLogger(config)
        let app = try await buildApplication(config, logger: logger)
        print("Ecosire is starting on http://\(config.host):\(config.port) — API docs at /docs, register at POST /api/auth/register")
        try await app.runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    // --host/--port only matter to serve; accepted here, not shown.
    @OptionGroup(visibility: .hidden) var options: ServerOptions

    func run() async throws {
        let config = AppConfiguration(reader: options.reader())
        let logger = makeLogger(config)
        let applied = try await migrateDatabase(config, logger: logger)
        print(applied.isEmpty ? "Database is up to date." : "Applied \(applied.count) migration(s):\n" + applied.joined(separator: "\n"))
    }
}

struct OpenAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the OpenAPI document.")
    @Option(help: "json or yaml") var format: String = "json"
    @Option(help: "Write to this file instead of standard output") var output: String?

    func run() async throws {
        let builder = try await buildOpenAPIDocument()
        _ = try builder.document()  // refuse to export a document OpenAPIKit finds invalid
        let text = format == "yaml" ? try builder.yaml() : String(decoding: try builder.jsonData(), as: UTF8.self) + "\n"
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an administrator account.")
    // --host/--port only matter to serve; accepted here, not shown.
    @OptionGroup(visibility: .hidden) var options: ServerOptions
    @Option(help: "Email address") var email: String
    @Option(help: "Display name") var name: String = "Administrator"
    @Option(help: "Organization name (created if it does not exist)") var organization: String = "Ecosire"
    @Option(help: "Password (else read from ECOSIRE_ADMIN_PASSWORD)") var password: String?

    func run() async throws {
        let config = AppConfiguration(reader: options.reader())
        let logger = makeLogger(config)
        guard let password = password ?? ProcessInfo.processInfo.environment["ECOSIRE_ADMIN_PASSWORD"], password.count >= 8 else {
            throw ValidationError("A password of at least 8 characters is required (--password or ECOSIRE_ADMIN_PASSWORD)")
        }
        let result = try await createAdministrator(
            config, email: email, name: name, password: password, organization: organization, logger: logger)
        print("Created \(result.role) \(result.email) (id \(result.id)) in organization \(organization).")
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the SQLite database while the server runs (PostgreSQL: pg_dump).")
    // --host/--port only matter to serve; accepted here, not shown.
    @OptionGroup(visibility: .hidden) var options: ServerOptions
    @Option(help: "The backup file to create (must not exist)") var output: String

    func run() async throws {
        let config = AppConfiguration(reader: options.reader())
        let summary = try await backupDatabase(config, output: output, logger: makeLogger(config))
        print("Backed up \(summary.migrations) migration(s) of schema and all data to \(summary.path) (\(summary.bytes) bytes).")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the SQLite database with a backup; the server must be stopped (PostgreSQL: pg_restore).")
    // --host/--port only matter to serve; accepted here, not shown.
    @OptionGroup(visibility: .hidden) var options: ServerOptions
    @Option(help: "The backup file made by ecosire backup") var input: String

    func run() async throws {
        let config = AppConfiguration(reader: options.reader())
        let summary = try await restoreDatabase(config, input: input, logger: makeLogger(config))
        print("Restored \(summary.path) from \(input) (\(summary.migrations) migration(s)).")
        print("The replaced files were kept beside it as *.before-restore-*.")
    }
}
