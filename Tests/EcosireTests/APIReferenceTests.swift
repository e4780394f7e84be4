import Ecosire
import Foundation
import HTTPTypes
import Testing

@Suite("The API reference built into the server")
struct APIReferenceTests {
    /// The generated TypeScript client's methods per namespace class (`ContactsApi` → `list`, …),
    /// plus the hand-written session calls of `Auth`.
    static func typescriptMethods() throws -> [String: Set<String>] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let generated = try String(contentsOf: root.appendingPathComponent("sdk/typescript/src/generated/api.ts"), encoding: .utf8)
        var methods: [String: Set<String>] = [:]
        var current: String?
        for line in generated.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("export class "), let name = line.split(separator: " ").dropFirst(2).first {
                current = String(name)
            } else if let current, line.hasPrefix("  "), !line.hasPrefix("   "),
                let open = line.firstIndex(of: "("), line[line.index(line.startIndex, offsetBy: 2)].isLetter
            {
                methods[current, default: []].insert(String(line[line.index(line.startIndex, offsetBy: 2)..<open]))
            }
        }
        methods["AuthApi", default: []].formUnion(["login", "refresh", "logout"])
        return methods
    }

    @Test("every operation has a page with its method, path, access, errors and SDK calls that exist")
    func everyOperation() async throws {
        let methods = try Self.typescriptMethods()
        try await TestServer.run { client, _ in
            let document = try await client.get("/api/openapi.json").json
            let index = try await client.get("/docs/reference")
            #expect(index.status == .ok && index.contentType.hasPrefix("text/html"))
            #expect(index.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
            var count = 0
            for (path, item) in document["paths"]?.objectValue?.members ?? [] {
                for method in ["get", "post", "put", "patch", "delete"] {
                    guard let operation = item[method], let id = operation["operationId"]?.stringValue else { continue }
                    count += 1
                    #expect(index.text.contains("href=\"/docs/reference/\(id)\""), "index lists \(id)")
                    let page = try await client.get("/docs/reference/\(id)")
                    #expect(page.status == .ok, "\(id)")
                    #expect(
                        page.text.contains(">\(method.uppercased())</span> <code class=\"break\">\(path)</code>"), "\(id) names its route")
                    if let role = operation["x-required-role"]?.stringValue {
                        #expect(page.text.contains("role <strong>\(role)</strong>"), "\(id) names its role")
                    }
                    for (status, codes) in operation["x-error-codes"]?.objectValue?.members ?? [] {
                        #expect(page.text.contains("id=\"response-\(status)\""), "\(id) shows \(status)")
                        for code in codes.arrayValue ?? [] {
                            #expect(page.text.contains("href=\"/docs/errors#\(code.stringValue ?? "")\""), "\(id) links \(code)")
                        }
                    }
                    // The samples call a method the TypeScript SDK declares in that namespace.
                    let call = try #require(page.text.firstMatch(of: /client\.(\w+)\.(\w+)\(/), "\(id) has an SDK sample")
                    let namespace = String(call.1), name = String(call.2)
                    let className = namespace.prefix(1).uppercased() + namespace.dropFirst() + "Api"
                    #expect(methods[className]?.contains(name) == true, "\(id): client.\(namespace).\(name) is not in the TypeScript SDK")
                    #expect(page.text.contains("curl -sS"), "\(id) has a cURL sample")
                }
            }
            #expect(count > 100)
            #expect(index.text.contains("(\(count) in all)"))
            #expect(!index.text.contains("https://cdn"), "the reference loads nothing from elsewhere")
        }
    }

    @Test("pages show fields with rules, examples and samples; schemas link; unknown names are 404")
    func pageContent() async throws {
        try await TestServer.run { client, _ in
            let create = try await client.get("/docs/reference/createContact").text
            #expect(create.contains("<code class=\"break\">address.city</code>"))
            #expect(create.contains("one of person, company"))
            #expect(create.contains("at most 2048 characters; matches ^https?://"))
            #expect(create.contains("href=\"/docs/reference/schemas/CreateContactRequest\""))
            #expect(create.contains("-H &quot;Idempotency-Key: $(uuidgen)&quot;"))
            #expect(create.contains("client.contacts.create({\n  address: {"))
            #expect(create.contains("_type: .person"))
            #expect(create.contains("id=\"try-form\" data-method=\"POST\" data-path=\"/api/contacts\""))
            let get = try await client.get("/docs/reference/getContact").text
            #expect(get.contains("curl -sS &quot;$BASE_URL/api/contacts/$ID&quot;"))
            #expect(get.contains("client.contacts.get(id: &quot;&lt;id&gt;&quot;)"))
            #expect(get.contains("data-path-parameter=\"id\""))
            let login = try await client.get("/docs/reference/login").text
            #expect(login.contains("No credentials needed."))
            #expect(login.contains("client.auth.login(email: email, password: password)"))
            let schema = try await client.get("/docs/reference/schemas/Contact")
            #expect(schema.status == .ok && schema.text.contains("<code class=\"break\">organizationId</code>"))
            #expect(schema.text.contains("href=\"/docs/reference/getContact\""))
            #expect(try await client.get("/docs/reference/noSuchOperation").status == .notFound)
            #expect(try await client.get("/docs/reference/schemas/NoSuchSchema").status == .notFound)
            let swagger = try await client.get("/docs").text
            #expect(swagger.contains("href=\"/docs/reference\""), "Swagger UI's page points at the built-in reference")
        }
    }
}
