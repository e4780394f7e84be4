import Foundation

/// One operation's code samples on its reference page: cURL, the TypeScript SDK and the Swift SDK,
/// with the operation's example body and placeholders for path parameters.
struct APIReferenceSamples {
    let reference: APIReference
    let entry: APIReference.Entry

    var parameters: [JSONValue] { entry.object["parameters"]?.arrayValue ?? [] }
    var pathParameters: [String] { parameters.filter { $0["in"]?.stringValue == "path" }.compactMap { $0["name"]?.stringValue } }
    var requiredQuery: [JSONValue] {
        parameters.filter { $0["in"]?.stringValue == "query" && $0["required"]?.boolValue == true }
    }
    var isPublic: Bool { entry.object["security"]?.arrayValue?.isEmpty == true }
    var takesIdempotencyKey: Bool {
        parameters.contains { $0["in"]?.stringValue == "header" && $0["name"]?.stringValue == "Idempotency-Key" }
    }
    var body: (mediaType: String, schema: JSONValue?, example: JSONValue)? {
        guard let content = entry.object["requestBody"]?["content"]?.objectValue, let first = content.members.first else { return nil }
        return (first.key, first.value["schema"], first.value["example"] ?? synthesized(first.value["schema"], depth: 0))
    }

    /// An example built from the schema where the document has none: the required fields (or,
    /// when none is required, the first), each from its own example, enum, format or type.
    func synthesized(_ schema: JSONValue?, depth: Int) -> JSONValue {
        guard let schema = reference.resolve(schema), depth < 4 else { return .null }
        if let example = schema["example"] { return example }
        if let first = schema["enum"]?[0] { return first }
        if let option = schema["oneOf"]?[0] ?? schema["anyOf"]?[0] ?? schema["allOf"]?[0] { return synthesized(option, depth: depth + 1) }
        switch schema["type"]?.stringValue {
        case "object":
            guard let properties = schema["properties"]?.objectValue else { return .object(JSONObject()) }
            let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
            let chosen = properties.members.filter { required.contains($0.key) }
            let members = chosen.isEmpty ? Array(properties.members.prefix(1)) : chosen
            return .object(JSONObject(members.map { ($0.key, synthesized($0.value, depth: depth + 1)) }))
        case "array": return .array([])
        case "integer", "number": return .int(schema["minimum"]?.intValue.map { max($0, 1) } ?? 1)
        case "boolean": return .bool(true)
        default:
            switch schema["format"]?.stringValue {
            case "email": return "ada@example.com"
            case "uuid": return "01958f3a-7c2e-7d4b-9a1e-3f6b2c8d4e01"
            case "date-time": return "2026-01-01T00:00:00.000Z"
            case "date": return "2026-01-01"
            case "uri": return "https://example.com"
            default: return "text"
            }
        }
    }

    /// A placeholder for a path parameter: `$CONTACT_ID` in shells, `contactId` in code.
    static func shellVariable(_ name: String) -> String {
        "$" + SDKNames.words(name).map { $0.uppercased() }.joined(separator: "_")
    }

    static func example(_ parameter: JSONValue) -> String {
        let schema = parameter["schema"]
        if let example = parameter["example"] ?? schema?["example"] { return example.stringValue ?? example.prettyString() }
        if let first = schema?["enum"]?[0] { return first.stringValue ?? first.prettyString() }
        return "…"
    }

    var curl: String {
        var path = entry.path
        for name in pathParameters { path = path.replacingOccurrences(of: "{\(name)}", with: Self.shellVariable(name)) }
        let query = requiredQuery.compactMap { parameter -> String? in
            parameter["name"]?.stringValue.map { "\($0)=\(Self.example(parameter))" }
        }
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }
        var lines = ["curl -sS" + (entry.method == "get" ? "" : " -X \(entry.method.uppercased())") + " \"$BASE_URL\(path)\""]
        if !isPublic { lines.append("  -H \"Authorization: Bearer $ECOSIRE_API_KEY\"") }
        if takesIdempotencyKey { lines.append("  -H \"Idempotency-Key: $(uuidgen)\"") }
        if let body {
            switch body.mediaType {
            case "application/json":
                lines.append("  -H \"Content-Type: application/json\"")
                let json = body.example.prettyString(indent: "  ")
                lines.append("  -d '" + json.replacingOccurrences(of: "'", with: "'\\''") + "'")
            case "multipart/form-data":
                lines.append("  -F \"file=@package.zip\"")
            default:
                lines.append("  -H \"Content-Type: \(body.mediaType)\"")
                lines.append("  --data-binary @body")
            }
        }
        return lines.joined(separator: " \\\n")
    }

    var namespace: String { SDKNames.namespace(entry.tag) }
    var method: String { SDKNames.method(entry.id, tag: entry.tag) }

    var typescript: String {
        if let handwritten = SDKNames.handwritten[entry.id] { return handwritten.typescript }
        var arguments = pathParameters.map { "\"<\($0)>\"" }
        if let body {
            arguments.append(body.mediaType == "application/json" ? Self.typescriptLiteral(body.example, indent: "") : "body")
        }
        if !requiredQuery.isEmpty {
            let members = requiredQuery.compactMap { parameter -> String? in
                parameter["name"]?.stringValue.map { "\($0): \(JSONValue.string(Self.example(parameter)).prettyString())" }
            }
            arguments.append("{ " + members.joined(separator: ", ") + " }")
        }
        return "const result = await client.\(namespace).\(method)(\(arguments.joined(separator: ", ")));"
    }

    var swift: String {
        if let handwritten = SDKNames.handwritten[entry.id] { return handwritten.swift }
        var arguments = pathParameters.map { "\(SDKNames.namespace($0)): \"<\($0)>\"" }
        if !requiredQuery.isEmpty {
            let members = requiredQuery.compactMap { parameter -> String? in
                parameter["name"]?.stringValue.map { "\(Self.swiftLabel($0)): \(JSONValue.string(Self.example(parameter)).prettyString())" }
            }
            arguments.append("query: .init(" + members.joined(separator: ", ") + ")")
        }
        if let body {
            if body.mediaType == "application/json", let literal = swiftLiteral(body.example, schema: body.schema, indent: "") {
                arguments.append("body: " + literal)
            } else {
                arguments.append("body: body")
            }
        }
        let call = "try await client.\(namespace).\(method)(\(arguments.joined(separator: ", ")))"
        return "let result = " + call
    }

    /// The example as the Swift SDK's generated types take it (`.init(name: …)`, enum cases,
    /// `Date`s); nil for shapes a literal cannot say plainly (unions, maps).
    func swiftLiteral(_ value: JSONValue, schema: JSONValue?, indent: String) -> String? {
        guard let schema = reference.resolve(schema) else { return nil }
        if schema["oneOf"] != nil || schema["anyOf"] != nil || schema["allOf"] != nil { return nil }
        switch value {
        case .null: return "nil"
        case .bool(let flag): return flag ? "true" : "false"
        case .int, .double: return value.prettyString()
        case .string(let text):
            if schema["enum"] != nil { return "." + Self.swiftCase(text) }
            if schema["format"]?.stringValue == "date-time" { return "Date()" }
            return JSONValue.string(text).prettyString()
        case .array(let elements):
            let items = elements.map { swiftLiteral($0, schema: schema["items"], indent: indent) }
            guard !items.contains(where: { $0 == nil }) else { return nil }
            return "[" + items.compactMap { $0 }.joined(separator: ", ") + "]"
        case .object(let object):
            guard let properties = schema["properties"]?.objectValue else { return nil }
            var arguments: [String] = []
            // The generated initializer takes the properties in the schema's order.
            for (name, property) in properties.members {
                guard let member = object[name] else { continue }
                guard let literal = swiftLiteral(member, schema: property, indent: indent + "    ") else { return nil }
                arguments.append(Self.swiftLabel(name) + ": " + literal)
            }
            guard object.keys.allSatisfy({ properties[$0] != nil }) else { return nil }
            if arguments.isEmpty { return ".init()" }
            let inner = indent + "    "
            return ".init(\n" + arguments.map { inner + $0 }.joined(separator: ",\n") + "\n" + indent + ")"
        }
    }

    /// The generator's idiomatic names: `in_progress` → `inProgress`, `type` → `_type`.
    static func swiftCase(_ value: String) -> String {
        let name = swiftLabel(value)
        return name.first?.isLetter == true || name.first == "_" ? name : "_" + name
    }

    static func swiftLabel(_ name: String) -> String {
        let parts = name.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        guard let first = parts.first else { return "_" + name }
        let camel =
            first.prefix(1).lowercased() + first.dropFirst() + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return swiftKeywords.contains(camel) ? "_" + camel : camel
    }

    static let swiftKeywords: Set<String> = [
        "import", "default", "case", "class", "struct", "enum", "func", "init", "self", "Type", "type",
    ]

    /// A JSON value as a TypeScript object literal: member names unquoted where they are identifiers.
    static func typescriptLiteral(_ value: JSONValue, indent: String) -> String {
        switch value {
        case .object(let object):
            guard !object.members.isEmpty else { return "{}" }
            let inner = indent + "  "
            let members = object.members.map { key, member in
                let name =
                    key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) && key.first?.isNumber == false
                    ? key : JSONValue.string(key).prettyString()
                return inner + name + ": " + typescriptLiteral(member, indent: inner)
            }
            return "{\n" + members.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let elements):
            return "[" + elements.map { typescriptLiteral($0, indent: indent) }.joined(separator: ", ") + "]"
        default:
            return value.prettyString()
        }
    }
}
