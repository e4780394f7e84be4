import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// A JSON response as tests see it.
struct APIResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String

    /// The body parsed as JSON (`.null` when empty or not JSON).
    var json: JSONValue { (try? JSONValue.parse(text)) ?? .null }
    var contentType: String { headers[.contentType] ?? "" }
    /// `name=value` pairs from every `Set-Cookie`.
    var cookies: [String: String] {
        var result: [String: String] = [:]
        for line in headers[values: .setCookie] {
            let pair = line.split(separator: ";").first ?? ""
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) } else if parts.count == 1 { result[String(parts[0])] = "" }
        }
        return result
    }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

/// A live server on a real socket with a fresh database: a new SQLite file, or a new PostgreSQL
/// schema when `TEST_DATABASE_URL` is set.
struct TestServer {
    /// Runs `body` against a fresh server.
    static func run(
        _ overrides: [String: ConfigValue] = [:],
        clock: WallClock = .system,
        testing: TestingSetup = .live,
        _ body: @Sendable (TestClientSession, AppConfiguration) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ecosire-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var values: [AbsoluteConfigKey: ConfigValue] = [
            "data.dir": .init(stringLiteral: directory),
            "port": 0,
            "bcrypt.cost": 4,
            "log.level": "error",
            // Sixty servers run at once; only the webhook suite needs its delivery worker polling.
            "webhook.worker": false,
        ]
        if let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty {
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            try await TestDatabase.createSchema(url: url, schema: String(schema))
            values["database.url"] = .init(stringLiteral: url)
            values["database.schema"] = .init(stringLiteral: String(schema))
        }
        for (key, value) in overrides { values[AbsoluteConfigKey(stringLiteral: key)] = value }
        let config = AppConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: values)))
        var logger = Logger(label: "ecosire-test")
        logger.logLevel = .error
        let app = try await buildApplication(config, clock: clock, logger: logger)
        try await app.test(testing) { client in
            try await body(TestClientSession(client: client), config)
        }
    }
}

/// Makes and drops PostgreSQL schemas for tests.
enum TestDatabase {
    static func createSchema(url: String, schema: String) async throws {
        var logger = Logger(label: "test-db")
        logger.logLevel = .error
        let storage = try PostgresStorage.open(url: url, logger: logger)
        try await storage.transaction { sql in try await sql.exec("CREATE SCHEMA \(schema)") }
        try await storage.shutdown()
    }
}

/// A client bound to one server, with helpers that send JSON and record every response for the
/// OpenAPI conformance check (`ECOSIRE_RESPONSE_LOG`).
struct TestClientSession: Sendable {
    let client: any TestClientProtocol

    func request(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: JSONValue? = nil, body: String? = nil,
        headers extra: [String: String] = [:]
    ) async throws -> APIResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(string: json.jsonString)
        } else if let body {
            buffer = ByteBuffer(string: body)
        }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        let raw = try await client.executeRequest(uri: uri, method: method, headers: headers, body: buffer)
        let response = APIResponse(status: raw.status, headers: raw.headers, text: String(buffer: raw.body))
        ResponseRecorder.record(method: method, uri: uri, response: response)
        return response
    }

    func get(_ uri: String, token: String? = nil, headers: [String: String] = [:]) async throws -> APIResponse {
        try await request(.get, uri, token: token, headers: headers)
    }

    func post(_ uri: String, token: String? = nil, json: JSONValue, headers: [String: String] = [:]) async throws -> APIResponse {
        try await request(.post, uri, token: token, json: json, headers: headers)
    }

    func patch(_ uri: String, token: String? = nil, json: JSONValue) async throws -> APIResponse {
        try await request(.patch, uri, token: token, json: json)
    }

    func delete(_ uri: String, token: String? = nil) async throws -> APIResponse {
        try await request(.delete, uri, token: token)
    }

    // MARK: Scenario helpers

    /// Registers a new user (and organization); returns the session body.
    @discardableResult
    func register(
        email: String = "user-\(UUID().uuidString.prefix(8).lowercased())@example.com", password: String = "password123",
        name: String = "Test User"
    )
        async throws -> (token: String, refreshToken: String, email: String, userID: String)
    {
        let response = try await post(
            "/api/auth/register", json: ["email": .string(email), "password": .string(password), "name": .string(name)])
        #expect(response.status == .created, "register: \(response.text)")
        let body = response.json
        return (body["token"]?.stringValue ?? "", body["refreshToken"]?.stringValue ?? "", email, body["user"]?["id"]?.stringValue ?? "")
    }

    /// Creates a contact and returns it.
    @discardableResult
    func createContact(_ token: String, _ fields: JSONObject) async throws -> JSONValue {
        let response = try await post("/api/contacts", token: token, json: .object(fields))
        #expect(response.status == .created, "create contact: \(response.text)")
        return response.json
    }
}

/// Appends every test response to a JSON-lines file so a separate validator (openapi-core in
/// Python) can check each one against the published OpenAPI document.
enum ResponseRecorder {
    private static let file: Mutex<FileHandle?> = Mutex(
        {
            guard let path = ProcessInfo.processInfo.environment["ECOSIRE_RESPONSE_LOG"], !path.isEmpty else { return nil }
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = FileHandle(forWritingAtPath: path)
            handle?.seekToEndOfFile()
            return handle
        }())

    static func record(method: HTTPRequest.Method, uri: String, response: APIResponse) {
        file.withLock { handle in
            guard let handle else { return }
            let line: JSONValue = [
                "method": .string(method.rawValue), "uri": .string(uri), "status": .int(Int64(response.status.code)),
                "contentType": .string(response.contentType), "body": .string(response.text),
                "headers": .array(response.headers.map { .string($0.name.canonicalName) }),
            ]
            handle.write(Data((line.jsonString + "\n").utf8))
        }
    }
}
