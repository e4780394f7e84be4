import Ecosire
import Foundation
import HTTPTypes
import Logging
import SQLKit
import Testing

@Suite("Problem details for every failure")
struct ErrorTests {
    /// Checks the members both error styles need.
    static func expectProblem(_ response: APIResponse, status: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status.code == status, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.contentType == "application/problem+json", sourceLocation: sourceLocation)
        let body = response.json
        #expect(body["status"] == .int(Int64(status)), sourceLocation: sourceLocation)
        #expect(body["statusCode"] == .int(Int64(status)), sourceLocation: sourceLocation)
        #expect(body["code"] == .string(code), sourceLocation: sourceLocation)
        #expect(body["type"] == .string("/docs/errors#\(code)"), sourceLocation: sourceLocation)
        #expect(body["title"]?.stringValue == body["error"]?.stringValue, sourceLocation: sourceLocation)
        #expect(body["detail"]?.stringValue == body["message"]?.stringValue, sourceLocation: sourceLocation)
        #expect(body["instance"]?.stringValue?.hasPrefix("/") == true, sourceLocation: sourceLocation)
        #expect(body["requestId"]?.stringValue == response.header("X-Request-Id"), sourceLocation: sourceLocation)
    }

    @Test("routing errors: unknown route 404, wrong method 405 with Allow")
    func routing() async throws {
        try await TestServer.run { client, _ in
            Self.expectProblem(try await client.get("/api/does-not-exist"), status: 404, code: "NOT_FOUND")
            let wrongMethod = try await client.request(.put, "/api/contacts")
            Self.expectProblem(wrongMethod, status: 405, code: "METHOD_NOT_ALLOWED")
            #expect(wrongMethod.header("Allow") == "GET, POST")
        }
    }

    @Test("body errors: malformed JSON, wrong types, unknown fields, size, media type, validation")
    func bodies() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let malformed = try await client.request(
                .post, "/api/contacts", token: token, body: "{\"name\": ", headers: ["Content-Type": "application/json"])
            Self.expectProblem(malformed, status: 400, code: "BAD_REQUEST")

            let wrongType = try await client.post("/api/contacts", token: token, json: ["name": 42, "tags": "vip"])
            Self.expectProblem(wrongType, status: 400, code: "BAD_REQUEST")
            let fields = wrongType.json["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(Set(fields) == ["name", "tags"])

            let unknown = try await client.post("/api/contacts", token: token, json: ["name": "Ada", "nmae": "typo"])
            Self.expectProblem(unknown, status: 400, code: "BAD_REQUEST")
            #expect(unknown.json["details"]?.arrayValue?.first?["field"] == "nmae")
            #expect(unknown.json["details"]?.arrayValue?.first?["message"] == "Unknown field")

            let huge = String(repeating: "a", count: (1 << 20) + 10)
            let tooLarge = try await client.request(
                .post, "/api/contacts", token: token, body: "{\"name\":\"\(huge)\"}", headers: ["Content-Type": "application/json"])
            Self.expectProblem(tooLarge, status: 413, code: "PAYLOAD_TOO_LARGE")

            let wrongMedia = try await client.request(
                .post, "/api/contacts", token: token, body: "name=Ada", headers: ["Content-Type": "application/x-www-form-urlencoded"])
            Self.expectProblem(wrongMedia, status: 415, code: "UNSUPPORTED_MEDIA_TYPE")

            let invalid = try await client.post("/api/contacts", token: token, json: ["email": "not-an-email", "type": "robot"])
            Self.expectProblem(invalid, status: 422, code: "VALIDATION_FAILED")
            #expect(invalid.json["title"] == "Unprocessable Entity")
            #expect(invalid.json["message"] == "Validation failed")
            let details = invalid.json["details"]?.arrayValue ?? []
            #expect(details.contains { $0["field"] == "email" && $0["message"] == "Invalid email address" })
            #expect(details.contains { $0["field"] == "name" && $0["message"] == "Required" })
            #expect(details.contains { $0["field"] == "type" })

            // Nothing was stored by any of the failed requests.
            #expect(try await client.get("/api/contacts", token: token).json["meta"]?["total"] == .int(0))
        }
    }

    @Test("request ids are echoed when plain and generated otherwise; security headers are everywhere")
    func requestIDsAndHeaders() async throws {
        try await TestServer.run { client, _ in
            let echoed = try await client.get("/api/health", headers: ["X-Request-Id": "trace-123.abc"])
            #expect(echoed.header("X-Request-Id") == "trace-123.abc")
            let replaced = try await client.get("/api/health", headers: ["X-Request-Id": "bad id with spaces"])
            #expect(replaced.header("X-Request-Id")?.hasPrefix("req_") == true)
            for response in [echoed, try await client.get("/nope")] {
                #expect(response.header("X-Content-Type-Options") == "nosniff")
                #expect(response.header("Referrer-Policy") == "same-origin")
                #expect(response.header("X-API-Version") == "1")
                #expect(response.header("Content-Security-Policy") != nil)
            }
        }
    }

    @Test("an unexpected failure is a bare 500 INTERNAL and the transaction leaves nothing behind")
    func internalErrorRollsBack() async throws {
        try await TestServer.run { client, config in
            let token = try await client.register().token
            // Break the table the create hook writes to, behind the server's back.
            try await withDatabase(config) { database in
                try await database.transaction { sql in try await sql.exec("DROP TABLE contact_activities") }
            }

            let failed = try await client.post("/api/contacts", token: token, json: ["name": "Ghost", "email": "ghost@example.com"])
            Self.expectProblem(failed, status: 500, code: "INTERNAL")
            #expect(failed.json["message"] == "Internal server error")
            #expect(failed.json["details"] == nil)
            #expect(!failed.text.lowercased().contains("contact_activities"))
            // The contact insert was rolled back with the failed hook.
            #expect(try await client.get("/api/contacts", token: token).json["meta"]?["total"] == .int(0))
        }
    }
}
