import Configuration
import Ecosire
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// What an attacker with an ordinary account tries first: the largest numbers the schemas allow,
/// broken HTTP framing, duplicate JSON members, cross-site sign-in, caches and file modes.
@Suite("Hostile input")
struct HostileInputTests {
    @Test("money and quantities at the schemas' maxima answer 422 naming the field, and the server stays up")
    func largestAmountsAreRefusedByName() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let contactID = try #require(try await client.createContact(token, ["name": "Big Spender"])["id"]?.stringValue)
            let product = try await client.createProduct(token, ["price": 1_000_000_000_000])
            let productID = try #require(product["id"]?.stringValue)

            func field(_ response: APIResponse) -> String? { response.json["details"]?[0]?["field"]?.stringValue }

            // 100,000 × 10^12 exceeds the 10^15 a line may hold.
            let huge = try await client.post(
                "/api/orders", token: token,
                json: [
                    "contactId": .string(contactID), "taxRate": 10_000,
                    "lineItems": .array(Array(repeating: ["productId": .string(productID), "quantity": 100_000], count: 200)),
                ])
            #expect(huge.status == .unprocessableContent, "\(huge.text)")
            #expect(field(huge) == "lineItems[0].quantity")
            // Each line fits; their sum does not.
            let summed = try await client.post(
                "/api/orders", token: token,
                json: [
                    "contactId": .string(contactID),
                    "lineItems": .array(Array(repeating: ["productId": .string(productID), "quantity": 1_000], count: 2)),
                ])
            #expect(summed.status == .unprocessableContent)
            #expect(field(summed) == "lineItems")
            // The subtotal fits; with 100 % tax the total does not (the product formed by the old code overflowed).
            let taxed = try await client.post(
                "/api/orders", token: token,
                json: [
                    "contactId": .string(contactID), "taxRate": 10_000,
                    "lineItems": [["productId": .string(productID), "quantity": 1_000]],
                ])
            #expect(taxed.status == .unprocessableContent)
            #expect(field(taxed) == "taxRate")

            // Exactly the maximum is accepted, with exact tax arithmetic.
            let half = try await client.post(
                "/api/invoices", token: token,
                json: [
                    "contactId": .string(contactID), "taxRate": 10_000,
                    "lineItems": [["description": "Half", "quantity": 1, "unitPrice": 500_000_000_000_000]],
                ])
            #expect(half.status == .created, "\(half.text)")
            #expect(half.json["taxAmount"] == 500_000_000_000_000)
            #expect(half.json["total"] == 1_000_000_000_000_000)
            let odd = try await client.post(
                "/api/invoices", token: token,
                json: [
                    "contactId": .string(contactID), "taxRate": 1_999,
                    "lineItems": [["description": "Odd", "quantity": 3, "unitPrice": 123_456_789_012_345]],
                ])
            #expect(odd.status == .created, "\(odd.text)")
            // 370,370,367,037,035 × 0.1999 = 74,037,036,370,703.3…, rounded half up.
            #expect(odd.json["taxAmount"] == 74_037_036_370_703)
            #expect(odd.json["total"] == 444_407_403_407_738)

            let maxima: [(String, JSONValue)] = [
                ("lineItems[0].quantity", ["description": "x", "quantity": 1_000_000, "unitPrice": 1_000_000_000_000_000]),
                ("taxRate", ["description": "x", "quantity": 1, "unitPrice": 1_000_000_000_000_000]),
            ]
            for (expected, line) in maxima {
                let invoice = try await client.post(
                    "/api/invoices", token: token,
                    json: ["contactId": .string(contactID), "taxRate": 10_000, "lineItems": [line]])
                #expect(invoice.status == .unprocessableContent, "\(invoice.text)")
                #expect(field(invoice) == expected)
            }

            // The same through PATCH of drafts.
            let order = try await client.createOrder(token, contactID: contactID, productID: productID)
            let orderID = try #require(order["id"]?.stringValue)
            let patchedOrder = try await client.patch(
                "/api/orders/\(orderID)", token: token,
                json: ["taxRate": 10_000, "lineItems": [["productId": .string(productID), "quantity": 100_000]]])
            #expect(patchedOrder.status == .unprocessableContent)
            let invoiceID = try #require(half.json["id"]?.stringValue)
            let patchedInvoice = try await client.patch(
                "/api/invoices/\(invoiceID)", token: token,
                json: ["lineItems": [["description": "x", "quantity": 1_000_000, "unitPrice": 1_000_000_000_000_000]]])
            #expect(patchedInvoice.status == .unprocessableContent)
            #expect(field(patchedInvoice) == "lineItems[0].quantity")
            // A payment at the schema's maximum is more than is due.
            #expect(try await client.post("/api/invoices/\(invoiceID)/send", token: token, json: [:]).status == .ok)
            let overpaid = try await client.post(
                "/api/invoices/\(invoiceID)/pay", token: token, json: ["amount": 1_000_000_000_000_000, "method": "cash"])
            #expect(overpaid.status == .ok, "the whole amount due: \(overpaid.text)")
            #expect(overpaid.json["amountDue"] == 0)

            #expect(try await client.get("/api/health").status == .ok)
        }
    }

    @Test("every JSON operation survives the largest integers its schema allows")
    func everyOperationSurvivesItsSchemaMaxima() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let document = try await client.get("/api/openapi.json").json
            let schemas = document["components"]?["schemas"]?.objectValue ?? JSONObject()
            var sent = 0
            for (path, item) in document["paths"]?.objectValue?.members ?? [] {
                // Signing in again or changing the password would end this session, not test a limit.
                if path.hasPrefix("/api/auth/") || path == "/api/users/me" { continue }
                for (method, operation) in item.objectValue?.members ?? [] where ["post", "patch", "put"].contains(method) {
                    guard let schema = operation["requestBody"]?["content"]?["application/json"]?["schema"] else { continue }
                    let body = LargestValue.build(schema, components: schemas)
                    let uri = path.replacing(/\{[A-Za-z]+\}/) { _ in UUID().uuidString.lowercased() }
                    let response = try await client.request(
                        HTTPRequest.Method(method.uppercased())!, uri, token: token, json: body)
                    // 502 and 503 are documented answers of operations that need a service this
                    // server is not configured with (Stripe, an AI provider).
                    let documented = operation["responses"]?[String(response.status.code)] != nil
                    #expect(
                        response.status.code < 500 || (documented && [502, 503].contains(response.status.code)),
                        "\(method.uppercased()) \(path) with \(body.jsonString): \(response.text)")
                    sent += 1
                }
            }
            #expect(sent > 30, "the document lists the JSON operations")
            #expect(try await client.get("/api/health").status == .ok)
        }
    }

    @Test("broken framing, an oversized path and duplicate members are 400 problems with the usual headers")
    func malformedRequestsAreProblems() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let port = try #require(client.client.port)
            let auth = "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
            let cases: [(String, String)] = [
                (
                    "bad chunk size",
                    "POST /api/contacts HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
                ),
                ("gzip alone", "POST /api/contacts HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: gzip\r\n\r\n{}"),
                ("100 KB path", "GET /" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n"),
            ]
            for (name, raw) in cases {
                let answer = try await RawHTTP.exchange(port: port, request: raw)
                #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(name): \(answer.prefix(200))")
                let lower = answer.lowercased()
                #expect(lower.contains("content-type: application/problem+json"), "\(name)")
                #expect(lower.contains("x-content-type-options: nosniff"), "\(name)")
                #expect(lower.contains("x-request-id: req_"), "\(name)")
                #expect(answer.contains("\"code\":\"BAD_REQUEST\""), "\(name): \(answer)")
            }
            #expect(try await client.get("/api/health").status == .ok)

            let duplicate = try await client.request(
                .post, "/api/contacts", token: token, body: #"{"name": "a", "address": {"city": "x", "city": "y"}}"#,
                headers: ["Content-Type": "application/json"])
            #expect(duplicate.status == .badRequest)
            #expect(duplicate.json["details"]?[0]?["field"] == "address.city")
            let nested = try await client.request(
                .post, "/api/contacts", token: token, body: #"{"name": "a", "tags": ["x"], "name": "b"}"#,
                headers: ["Content-Type": "application/json"])
            #expect(nested.json["details"]?[0]?["field"] == "name")
            #expect(try await client.get("/api/contacts", token: token).json["meta"]?["total"] == 0, "nothing was written")

            // A body of 60,000 distinct members parses in linear time (it took minutes while every
            // member was looked up among the previous ones).
            let members = (0..<60_000).map { "\"m\($0)\":0" }.joined(separator: ",")
            let started = ContinuousClock.now
            let wide = try await client.request(
                .post, "/api/contacts", token: token, body: "{\(members)}", headers: ["Content-Type": "application/json"])
            #expect(wide.status == .badRequest, "unknown fields")
            #expect(wide.json["details"]?.arrayValue?.count == 50, "the first 50 problems, not 60,000")
            #expect(wide.text.utf8.count < 10_000)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("control characters are refused where text is decoded, the same on both backends; lengths count code points")
    func controlCharactersAreRefusedByName() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let json = ["Content-Type": "application/json"]
            // PostgreSQL cannot store U+0000 in text: it was a 500 there and stored on SQLite.
            for (body, field, message) in [
                (#"{"name": "nul\u0000byte"}"#, "name", "control characters"),
                (#"{"name": "bell\u0007"}"#, "name", "control characters"),
                (#"{"name": "two\nlines"}"#, "name", "single line"),
                (#"{"name": "a", "address": {"city": "tab\tbed"}}"#, "address.city", "single line"),
            ] {
                let answer = try await client.request(.post, "/api/contacts", token: token, body: body, headers: json)
                #expect(answer.status == .unprocessableContent, "\(body): \(answer.text)")
                #expect(answer.json["details"]?[0]?["field"]?.stringValue == field, "\(body): \(answer.text)")
                #expect(answer.json["details"]?[0]?["message"]?.stringValue?.contains(message) == true, "\(body): \(answer.text)")
            }
            #expect(try await client.get("/api/contacts", token: token).json["meta"]?["total"] == 0, "nothing was written")
            // Free text keeps its lines.
            let product = try await client.request(
                .post, "/api/products", token: token,
                body: #"{"name": "Lines", "sku": "LINES-1", "price": 100, "type": "digital", "description": "one\ntwo\tthree"}"#,
                headers: json)
            #expect(product.status == .created, "\(product.text)")
            #expect(product.json["description"] == "one\ntwo\tthree")
            let nul = try await client.request(
                .post, "/api/products", token: token,
                body: #"{"name": "Nul", "sku": "NUL-1", "price": 100, "type": "digital", "description": "a\u0000b"}"#, headers: json)
            #expect(nul.status == .unprocessableContent && nul.json["details"]?[0]?["field"] == "description", "\(nul.text)")
            for query in ["search=a%00b", "search=a%0Ab", "type=%00"] {
                let answer = try await client.get("/api/contacts?\(query)", token: token)
                #expect(answer.status == .badRequest, "\(query): \(answer.text)")
                #expect(answer.json["details"]?[0]?["field"]?.stringValue == String(query.prefix { $0 != "=" }), "\(query)")
            }
            for list in ["/api/crm/leads?search=%00", "/api/products?search=a%00"] {
                #expect(try await client.get(list, token: token).status == .badRequest, "\(list)")
            }
            // 200 code points are allowed in a search, 201 are not, whatever the graphemes: an "e"
            // with 205 combining accents is one character but 206 code points.
            let accents = "e" + String(repeating: "\u{301}", count: 205)
            let encoded = accents.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let long = try await client.get("/api/contacts?search=\(encoded)", token: token)
            #expect(long.status == .badRequest && long.json["details"]?[0]?["field"] == "search", "\(long.text)")
            let fits = "e" + String(repeating: "\u{301}", count: 199)
            let fitting = try await client.get(
                "/api/contacts?search=\(fits.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")", token: token)
            #expect(fitting.status == .ok, "\(fitting.text)")
            // CSV import reports the row and the field, and writes nothing from it.
            let csv = try await client.request(
                .post, "/api/contacts/import", token: token, body: "name,email\n\"nul\u{0}x\",nul@example.com\n",
                headers: ["Content-Type": "text/csv"])
            #expect(csv.json["failed"] == 1 && csv.json["rows"]?[0]?["errors"]?[0]?["field"] == "name", "\(csv.text)")
            for type in ["application/vnd.evil+json", "text/json", "application/merge-patch+json"] {
                let other = try await client.request(
                    .post, "/api/contacts", token: token, body: #"{"name": "typed"}"#, headers: ["Content-Type": type])
                #expect(other.status == .unsupportedMediaType && other.json["code"] == "UNSUPPORTED_MEDIA_TYPE", "\(type): \(other.text)")
            }
            #expect(try await client.get("/api/health").status == .ok)
        }
    }

    @Test("the sign-in form refuses another site's origin; credentialed answers are not cached")
    func signInOriginAndCaching() async throws {
        try await TestServer.run(["webhook.allow.private.urls": true]) { client, _ in
            let user = try await client.register()
            let form = "email=\(user.email.formEncoded)&password=password123"
            let forged = try await client.request(
                .post, "/dashboard/login", body: form,
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": "https://attacker.example"])
            #expect(forged.status == .forbidden)
            #expect(forged.cookies["ecosire_auth"] == nil, "no session for a forged form")
            let hidden = try await client.request(
                .post, "/dashboard/login", body: form, headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": "null"])
            #expect(hidden.status == .forbidden)
            // The test client names the server `localhost`, as a browser would in the Host header.
            let own = try await client.request(
                .post, "/dashboard/login", body: form,
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": "http://localhost"])
            #expect(own.status == .seeOther)
            #expect(own.cookies["ecosire_auth"] != nil)

            let login = try await client.post("/api/auth/login", json: ["email": .string(user.email), "password": "password123"])
            #expect(login.header("Cache-Control") == "no-store")
            #expect(try await client.get("/api/users/me", token: user.token).header("Cache-Control") == "no-store")
            let key = try await client.post("/api/api-keys", token: user.token, json: ["name": "ci"])
            #expect(key.header("Cache-Control") == "no-store")
            let endpoint = try await client.post(
                "/api/webhooks/endpoints", token: user.token, json: ["url": "http://127.0.0.1:9/in", "events": ["*"]])
            #expect(endpoint.status == .created, "\(endpoint.text)")
            #expect(endpoint.header("Cache-Control") == "no-store")
            #expect(try await client.get("/api/openapi.json").header("Cache-Control") != "no-store", "public documents may be cached")
        }
    }

    @Test("the SQLite database and its WAL files are readable by their owner only")
    func databaseFilesAreOwnerOnly() async throws {
        try await TestServer.run { client, config in
            _ = try await client.register()
            guard let path = config.sqlitePath else { return }  // PostgreSQL keeps no files here
            for file in [path, path + "-wal", path + "-shm"] {
                let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
            }
        }
    }
}

/// A JSON value for a schema with every integer at its maximum and every array at its longest
/// (capped at three items), the rest filled with the smallest valid choice.
enum LargestValue {
    static func build(_ schema: JSONValue, components: JSONObject, depth: Int = 0) -> JSONValue {
        if let reference = schema["$ref"]?.stringValue, let name = reference.split(separator: "/").last {
            return build(components[String(name)] ?? .null, components: components, depth: depth)
        }
        if let choices = schema["oneOf"]?.arrayValue ?? schema["anyOf"]?.arrayValue, let first = choices.first {
            return build(first, components: components, depth: depth)
        }
        if let allowed = schema["enum"]?.arrayValue, let first = allowed.first(where: { $0 != .null }) { return first }
        guard depth < 8 else { return .null }
        switch schema["type"]?.stringValue {
        case "integer": return .int(schema["maximum"]?.intValue ?? Int64.max)
        case "number": return .int(schema["maximum"]?.intValue ?? 1_000_000_000_000_000)
        case "boolean": return true
        case "array":
            let count = min(Int(schema["maxItems"]?.intValue ?? 3), 3)
            let item = build(schema["items"] ?? .null, components: components, depth: depth + 1)
            return .array(Array(repeating: item, count: max(count, Int(schema["minItems"]?.intValue ?? 0))))
        case "object":
            var object = JSONObject()
            for (name, property) in schema["properties"]?.objectValue?.members ?? [] where property["readOnly"] != true {
                object[name] = build(property, components: components, depth: depth + 1)
            }
            return .object(object)
        default:
            return string(schema)
        }
    }

    private static func string(_ schema: JSONValue) -> JSONValue {
        switch schema["format"]?.stringValue {
        case "uuid": return .string(UUID().uuidString.lowercased())
        case "date-time": return .string(Timestamp.iso(millis: Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000))
        case "date": return "2030-01-01"
        case "email": return "largest@example.com"
        case "uri", "url": return "https://example.com/hook"
        default:
            let length = max(1, Int(schema["minLength"]?.intValue ?? 1))
            return .string(String(repeating: "x", count: length))
        }
    }
}

/// One request written as raw bytes on a new connection, and everything the server sends back
/// before it closes (or 15 seconds pass). The blocking socket calls run on a thread of their own:
/// on the concurrency pool they would hold one of its few threads, which the server needs.
enum RawHTTP {
    static func exchange(port: Int, request: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try blockingExchange(port: port, request: request) })
            }
        }
    }

    private static func blockingExchange(port: Int, request: String) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawHTTPError(message: "socket") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw RawHTTPError(message: "connect") }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { break }  // the server may answer and close before reading everything
            sent += written
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}

struct RawHTTPError: Error {
    let message: String
}
