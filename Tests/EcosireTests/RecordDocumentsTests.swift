import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Logging
import SQLKit
import Synchronization
import Testing

/// SQLite keeps each record's JSON and each organization's count in trigger-maintained storage
/// (`RecordDocuments`); these tests check that every write path keeps them exact and that a server
/// repairs them at start when they are stale or their triggers are gone.
@Suite(
    "Stored record JSON and counts (SQLite)",
    .enabled(if: (ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] ?? "").isEmpty, "SQLite only")
)
struct RecordDocumentsTests {
    /// Every contact as the list shows it, by id, and the list's total.
    static func listed(_ client: TestClientSession, _ token: String) async throws -> (records: [String: JSONValue], total: Int?) {
        let page = try await client.get("/api/contacts?limit=100", token: token)
        #expect(page.status == .ok, "\(page.text)")
        var records: [String: JSONValue] = [:]
        for record in page.json["data"]?.arrayValue ?? [] { records[record["id"]?.stringValue ?? ""] = record }
        return (records, page.json["meta"]?["total"]?.intValue.map { Int($0) })
    }

    /// Opens the server's SQLite file next to it (WAL allows a second connection).
    static func withDatabase(_ path: String?, _ work: @Sendable (any Database) async throws -> Void) async throws {
        var logger = Logger(label: "record-documents-test")
        logger.logLevel = .error
        let database = try await SQLiteStorage.open(path: try #require(path), readerCount: 1, logger: logger)
        do {
            try await work(database)
            try await database.shutdown()
        } catch {
            try? await database.shutdown()
            throw error
        }
    }

    /// Counts kept by the triggers against a fresh count of every table they cover.
    static func countsMatch(_ database: any Database) async throws -> Bool {
        try await database.read { sql in
            let tables = try await sql.raw("SELECT table_name FROM record_documents").all().map {
                try $0.decode(column: "table_name", as: String.self)
            }
            #expect(tables.contains("contacts"))
            for table in tables {
                let drift = try await sql.raw(
                    """
                    SELECT COUNT(*) AS n FROM (SELECT organization_id, COUNT(*) AS total FROM \(ident: table) GROUP BY organization_id) actual
                    LEFT JOIN record_counts kept ON kept.table_name = \(bind: table) AND kept.organization_id = actual.organization_id
                    WHERE kept.total IS NOT actual.total
                    """
                ).first()?.decode(column: "n", as: Int.self)
                let missing = try await sql.raw("SELECT COUNT(*) AS n FROM \(ident: table) WHERE record_json IS NULL").first()?
                    .decode(column: "n", as: Int.self)
                if drift != 0 || missing != 0 { return false }
            }
            return true
        }
    }

    @Test("create, update, delete, import and merge keep the stored JSON and the counts exact")
    func writePaths() async throws {
        try await TestServer.run { client, config in
            let alice = try await client.register()
            let bob = try await client.register()
            let ada = try await client.createContact(alice.token, ["name": "Ada", "email": "ada@example.com", "tags": ["a"]])
            let grace = try await client.createContact(alice.token, ["name": "Grace", "type": "company"])
            let gone = try await client.createContact(alice.token, ["name": "Gone"])
            _ = try await client.createContact(bob.token, ["name": "Bob's only contact"])

            let patched = try await client.patch(
                "/api/contacts/\(ada["id"]?.stringValue ?? "")", token: alice.token,
                json: ["name": "Ada Lovelace", "address": ["city": "London"], "phone": nil])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try await client.delete("/api/contacts/\(gone["id"]?.stringValue ?? "")", token: alice.token).status == .noContent)
            let imported = try await client.request(
                .post, "/api/contacts/import", token: alice.token,
                body: "name,email,type\nImported One,one@example.com,person\nAda Again,ada@example.com,person\n,broken,person\n",
                headers: ["Content-Type": "text/csv"])
            #expect(imported.json["created"] == 1 && imported.json["updated"] == 1 && imported.json["failed"] == 1, "\(imported.text)")
            let merged = try await client.post(
                "/api/contacts/merge", token: alice.token,
                json: ["primaryId": ada["id"] ?? .null, "duplicateId": grace["id"] ?? .null])
            #expect(merged.status == .ok, "\(merged.text)")

            // Ada (renamed by the import), and Imported One: the list reads stored JSON and the
            // counter, and both must agree with each record read on its own.
            let (records, total) = try await Self.listed(client, alice.token)
            #expect(total == 2)
            #expect(Set(records.values.compactMap { $0["name"]?.stringValue }) == ["Ada Again", "Imported One"])
            for (id, record) in records {
                #expect(try await client.get("/api/contacts/\(id)", token: alice.token).json == record)
            }
            #expect(records[ada["id"]?.stringValue ?? ""]?["address"] == ["city": "London"])
            #expect(try await Self.listed(client, bob.token).total == 1)
            // A filtered list counts with SQL, and says the same.
            #expect(try await client.get("/api/contacts?type=person", token: alice.token).json["meta"]?["total"] == 2)

            try await Self.withDatabase(config.sqlitePath) { database in
                let matches = try await Self.countsMatch(database)
                #expect(matches)
            }
        }
    }

    @Test("a server repairs stale documents and counts at start, and without migrations it counts and renders in the query")
    func repairAtStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ecosire-documents-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let overrides: [String: ConfigValue] = ["data.dir": .init(stringLiteral: directory)]
        let email = "owner-\(UUID().uuidString.prefix(8).lowercased())@example.com"

        let expected = Mutex<[String: JSONValue]>([:])
        let path = Mutex<String?>(nil)
        try await TestServer.run(overrides) { client, config in
            let owner = try await client.register(email: email)
            for name in ["One", "Two", "Three"] { _ = try await client.createContact(owner.token, ["name": .string(name)]) }
            let listed = try await Self.listed(client, owner.token)
            expected.withLock { $0 = listed.records }
            path.withLock { $0 = config.sqlitePath }
        }
        let databasePath = path.withLock { $0 }

        /// Breaks what the server keeps: wrong JSON, a wrong count, and either a dropped trigger or
        /// a fingerprint from other fields.
        func corrupt(dropTrigger: Bool) async throws {
            try await Self.withDatabase(databasePath) { database in
                try await database.transaction { sql in
                    try await sql.exec("UPDATE contacts SET record_json = '{\"id\":\"stale\"}'")
                    try await sql.exec("UPDATE record_counts SET total = 999 WHERE table_name = 'contacts'")
                    if dropTrigger {
                        try await sql.exec("DROP TRIGGER contacts_record_update")
                    } else {
                        try await sql.exec("UPDATE record_documents SET fingerprint = 'older fields' WHERE table_name = 'contacts'")
                    }
                }
            }
        }
        @Sendable func login(_ client: TestClientSession) async throws -> String {
            let response = try await client.post("/api/auth/login", json: ["email": .string(email), "password": "password123"])
            return try #require(response.json["token"]?.stringValue, "\(response.text)")
        }

        for dropTrigger in [true, false] {
            try await corrupt(dropTrigger: dropTrigger)
            // Migrations off: nothing is repaired, so the stale storage must not be read.
            try await TestServer.run(overrides.merging(["migrate.on.start": false]) { $1 }) { client, _ in
                let token = try await login(client)
                let (records, total) = try await Self.listed(client, token)
                #expect(total == 3)
                #expect(records == expected.withLock { $0 })
            }
            // Migrations on: repaired at start, then read from storage again.
            try await TestServer.run(overrides) { client, config in
                let token = try await login(client)
                let (records, total) = try await Self.listed(client, token)
                #expect(total == 3)
                #expect(records == expected.withLock { $0 })
                try await Self.withDatabase(config.sqlitePath) { database in
                    let matches = try await Self.countsMatch(database)
                    #expect(matches)
                    let stale = try await database.read { sql in
                        try await sql.raw("SELECT COUNT(*) AS n FROM contacts WHERE record_json LIKE '%stale%'").first()?
                            .decode(column: "n", as: Int.self)
                    }
                    #expect(stale == 0)
                }
            }
        }
    }
}
