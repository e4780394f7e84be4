import Foundation

/// The API reference at `/docs/reference`, read from the finished OpenAPI document, so the pages
/// show exactly the contract the server serves (and need nothing from the internet).
struct APIReference: Sendable {
    static let methods = ["get", "post", "put", "patch", "delete"]

    /// One operation as the pages show it.
    struct Entry: Sendable {
        let id: String
        let method: String
        let path: String
        let tag: String
        let object: JSONObject
        var summary: String { object["summary"]?.stringValue ?? id }
    }

    struct Tag: Sendable {
        let name: String
        let description: String
        let operations: [Entry]
        var anchor: String { "tag-" + APIReference.slug(name) }
    }

    let tags: [Tag]
    let schemas: JSONObject
    let responses: JSONObject
    private let byID: [String: Entry]

    init(document: JSONValue) throws {
        guard let paths = document["paths"]?.objectValue else { throw ConfigurationError("The document has no paths") }
        var entries: [Entry] = []
        for (path, item) in paths.members {
            for method in Self.methods {
                guard let operation = item[method]?.objectValue, let id = operation["operationId"]?.stringValue else { continue }
                let tag = operation["tags"]?[0]?.stringValue ?? "Other"
                entries.append(Entry(id: id, method: method, path: path, tag: tag, object: operation))
            }
        }
        let declared = (document["tags"]?.arrayValue ?? []).compactMap { tag -> (String, String)? in
            tag["name"]?.stringValue.map { ($0, tag["description"]?.stringValue ?? "") }
        }
        var order = declared.map(\.0)
        for entry in entries where !order.contains(entry.tag) { order.append(entry.tag) }
        let descriptions = Dictionary(declared, uniquingKeysWith: { first, _ in first })
        tags = order.compactMap { name in
            let operations = entries.filter { $0.tag == name }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
            return operations.isEmpty ? nil : Tag(name: name, description: descriptions[name] ?? "", operations: operations)
        }
        byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        schemas = document["components"]?["schemas"]?.objectValue ?? JSONObject()
        responses = document["components"]?["responses"]?.objectValue ?? JSONObject()
    }

    func operation(_ id: String) -> Entry? { byID[id] }

    /// `#/components/schemas/Contact` → `Contact`.
    static func refName(_ schema: JSONValue?) -> String? {
        guard let ref = schema?["$ref"]?.stringValue else { return nil }
        return ref.split(separator: "/").last.map(String.init)
    }

    /// The schema itself, following `$ref`s (a bounded number, in case of a cycle).
    func resolve(_ schema: JSONValue?) -> JSONValue? {
        var current = schema
        for _ in 0..<8 {
            guard let name = Self.refName(current) else { return current }
            current = schemas[name]
        }
        return current
    }

    /// A response, following a `$ref` into `components/responses`.
    func resolveResponse(_ response: JSONValue) -> JSONValue {
        guard let ref = response["$ref"]?.stringValue, let name = ref.split(separator: "/").last else { return response }
        return responses[String(name)] ?? response
    }

    static func slug(_ text: String) -> String {
        String(text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }
}
